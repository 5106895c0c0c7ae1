import { describe, expect, it } from 'vitest';
import { benchCopyBandwidth } from './gemm.js';
import { firstMismatch, randomF32, referenceMatmul } from './gemm-reference.js';

describe('gemm benchmark helpers', () => {
  it('measures copy bandwidth as a positive GB/s row', () => {
    const row = benchCopyBandwidth(8 * 2 ** 20);
    expect(row.unit).toBe('GB/s');
    expect(row.ours).toBeGreaterThan(0.1);
    expect(row.peer).toBeNull();
  });

  it('reference matmul: exact on integers, and its tolerance catches a wrong element', () => {
    // [2, 3] · [3, 2] with small integers: float64 sums are exact
    const a = new Float32Array([1, 2, 3, 4, 5, 6]);
    const b = new Float32Array([7, 8, 9, 10, 11, 12]);
    const ref = referenceMatmul({ a, b, batch: 1, m: 2, n: 2, k: 3, transA: false, transB: false, aStride: 0, bStride: 0, accumulate: false });
    expect([...ref.value]).toEqual([58, 64, 139, 154]);
    expect(firstMismatch(new Float32Array([58, 64, 139, 154]), ref)).toBeUndefined();
    expect(firstMismatch(new Float32Array([58, 64, 139, 155]), ref)?.index).toBe(3);
  });

  it('randomF32 is deterministic, in [-1, 1), and seed-dependent', () => {
    const x = randomF32(1000, 5);
    expect([...x]).toEqual([...randomF32(1000, 5)]);
    expect(x.every((v) => v >= -1 && v < 1)).toBe(true);
    expect([...x]).not.toEqual([...randomF32(1000, 6)]);
  });
});
