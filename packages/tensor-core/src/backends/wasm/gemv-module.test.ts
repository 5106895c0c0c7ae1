import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastBackend, runKernel, setBackend } from '../../registry.js';
import { checkMatmul, matmulProblem, type MatmulProblem } from '../../testing/matmul-problem.js';
import { gemvForm } from '../gemv-form.js';
import { disposeWasmBackend, initWasmBackend } from './index.js';
import { WasmGemv } from './gemv-module.js';

const up4 = (x: number) => 4 * Math.ceil(x / 4);
/**
 * A product with M = 1 or N = 1 (every transpose, batch with broadcast strides, accumulate); half of
 * them with K and the other dimension rounded up to a multiple of 4, which the kernel needs.
 */
const problem: fc.Arbitrary<MatmulProblem> = fc.record({ p: matmulProblem(90), oneRow: fc.boolean(), quad: fc.boolean() }).map(({ p, oneRow, quad }) => {
  const other = quad ? up4(oneRow ? p.n : p.m) : oneRow ? p.n : p.m;
  return { ...p, m: oneRow ? 1 : other, n: oneRow ? other : 1, k: quad ? up4(p.k) : p.k };
});

describe('wasm matrix–vector kernel', () => {
  beforeAll(async () => {
    expect((await initWasmBackend({ threads: 1 })).ok).toBe(true);
  });
  afterAll(() => {
    disposeWasmBackend();
    setBackend(['cpu']);
  });

  it('names the layouts: one output row reads B, one output column reads A, rows or columns by the transpose', () => {
    expect(gemvForm({ m: 1, n: 5, k: 8, transA: false, transB: true })).toEqual({ kind: 'dot', matrix: 'b', rows: 5, inner: 8 });
    expect(gemvForm({ m: 1, n: 5, k: 8, transA: true, transB: false })).toEqual({ kind: 'axpy', matrix: 'b', rows: 5, inner: 8 });
    expect(gemvForm({ m: 6, n: 1, k: 8, transA: false, transB: false })).toEqual({ kind: 'dot', matrix: 'a', rows: 6, inner: 8 });
    expect(gemvForm({ m: 6, n: 1, k: 8, transA: true, transB: true })).toEqual({ kind: 'axpy', matrix: 'a', rows: 6, inner: 8 });
    expect(gemvForm({ m: 2, n: 2, k: 8, transA: false, transB: false })).toBeNull();
    // dot needs K % 4 = 0, axpy a multiple of 4 outputs
    expect(WasmGemv.supports({ m: 1, n: 5, k: 6, transA: false, transB: true })).toBe(false);
    expect(WasmGemv.supports({ m: 1, n: 6, k: 5, transA: false, transB: false })).toBe(false);
    expect(WasmGemv.supports({ m: 1, n: 8, k: 5, transA: false, transB: false })).toBe(true);
  });

  it('property: agrees with a float64 reference to f32 accuracy (row tails, k tails, batches, broadcast, accumulate)', () => {
    const gemv = WasmGemv.create();
    fc.assert(fc.property(problem, (p) => {
      fc.pre(WasmGemv.supports(p));
      checkMatmul((a) => gemv.run(a), p);
    }), { numRuns: 300 });
  });

  it('the wasm matmul kernel sends a one-row product here and a shape it cannot take to the GEMM, both correct', () => {
    setBackend(['wasm', 'cpu']);
    for (const [m, n, k] of [[1, 96, 64], [1, 96, 63], [40, 1, 128]] as const) {
      checkMatmul((a) => runKernel('matmul', a), { m, n, k, batch: 2, transA: false, transB: true, broadcastA: false, broadcastB: true, accumulate: false, seed: 7 });
      expect(lastBackend('matmul')).toBe('wasm');
    }
  });
});
