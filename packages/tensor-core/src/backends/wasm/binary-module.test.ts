import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryCpu, sumSquaresCpu } from '../cpu/elementwise.js';
import { kernelCounts, resetKernelCounts, setBackend, type BinaryOpName } from '../../registry.js';
import { sumOfSquares } from '../../ops/optim.js';
import { Tensor } from '../../tensor.js';
import { add, mul } from '../../ops/binary.js';
import { sum } from '../../ops/reduce.js';
import { randomF32 } from '../../bench/gemm-reference.js';
import { disposeWasmBackend, initWasmBackend } from './index.js';
import { CHUNK, WasmBinary } from './binary-module.js';

/** Index of the first element whose bits differ (NaN matches NaN), or -1. */
function firstBitDiff(a: Float32Array, b: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!(Object.is(a[i], b[i]) || (Number.isNaN(a[i]) && Number.isNaN(b[i])))) return i;
  return a.length === b.length ? -1 : a.length;
}

describe('wasm binary and sum-of-squares kernels', () => {
  beforeAll(async () => {
    expect((await initWasmBackend({ threads: 1 })).ok).toBe(true);
  });
  afterAll(() => {
    disposeWasmBackend();
    setBackend(['cpu']);
  });

  it('property: add, sub, mul, div are bit-identical to the oracle at any length (chunk edges), out aliasing a, with zeros, infinities and NaN', () => {
    const k = WasmBinary.create();
    const special = [0, -0, Infinity, -Infinity, NaN, 1e-45, 3.4e38, -3.4e38];
    fc.assert(fc.property(
      fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: CHUNK - 3, max: CHUNK + 5 }), fc.integer({ min: 2 * CHUNK + 1, max: 3 * CHUNK })),
      fc.integer({ min: 0, max: 2 ** 30 }),
      fc.constantFrom<BinaryOpName>('add', 'sub', 'mul', 'div'),
      fc.boolean(),
      (n, seed, op, alias) => {
        const a = randomF32(n, seed).map((v, i) => (i % 97 === 5 ? special[i % special.length]! : v * 1e3));
        const b = randomF32(n, seed + 1).map((v, i) => (i % 89 === 3 ? special[(i + 3) % special.length]! : v));
        const want = new Float32Array(n);
        binaryCpu({ op, a, b, out: want });
        const a2 = a.slice();
        const out = alias ? a2 : new Float32Array(n);
        k.binary({ op, a: a2, b, out });
        expect(firstBitDiff(out, want)).toBe(-1);
      },
    ), { numRuns: 80 });
  });

  it('property: the sum of squares matches the f64 oracle to f64 rounding, at any length; NaN and Infinity propagate', () => {
    const k = WasmBinary.create();
    fc.assert(fc.property(
      fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: CHUNK - 3, max: CHUNK + 5 }), fc.integer({ min: 2 * CHUNK + 1, max: 3 * CHUNK })),
      fc.integer({ min: 0, max: 2 ** 30 }),
      fc.constantFrom(1e-20, 1, 1e15),
      (n, seed, scale) => {
        const x = randomF32(n, seed).map((v) => v * scale);
        const want = new Float64Array([0.5]);
        const got = new Float64Array([0.5]);
        sumSquaresCpu({ x, acc: want });
        k.sumSquares({ x, acc: got });
        // every term is ≥ 0, so reordering the f64 sum moves it by at most n·2⁻⁵³ relative
        expect(Math.abs(got[0]! - want[0]!)).toBeLessThanOrEqual(want[0]! * (n + 2) * 2 ** -52);
      },
    ), { numRuns: 60 });
    const withNaN = new Float32Array(CHUNK + 7).fill(1);
    withNaN[CHUNK + 3] = NaN;
    const acc = new Float64Array(1);
    k.sumSquares({ x: withNaN, acc });
    expect(acc[0]).toBeNaN();
    const inf = new Float32Array(10).fill(2);
    inf[9] = -Infinity;
    const acc2 = new Float64Array(1);
    k.sumSquares({ x: inf, acc: acc2 });
    expect(acc2[0]).toBe(Infinity);
  });

  it('binary ops and autograd accumulation run on wasm above the size threshold, bit-identical to the cpu chain; sumOfSquares too', () => {
    const x = randomF32(3000, 7), y = randomF32(3000, 8);
    const run = (chain: string[]) => {
      setBackend(chain);
      resetKernelCounts();
      const xt = new Tensor(x.slice(), [3000], { requiresGrad: true });
      const yt = new Tensor(y.slice(), [3000], { requiresGrad: true });
      // x and y each feed two products: their gradients are accumulated by autograd
      const z = add(mul(xt, yt), mul(xt, add(yt, xt)));
      sum(z).backward();
      return { z: z.f32(), gx: xt.grad!.f32(), gy: yt.grad!.f32(), s: sumOfSquares([x, y]), counts: kernelCounts() };
    };
    const w = run(['wasm']);
    expect(w.counts['binary/wasm']).toBeGreaterThanOrEqual(4);
    expect(w.counts['sumSquares/wasm']).toBe(2);
    const c = run(['cpu']);
    expect(c.counts['binary/wasm']).toBeUndefined();
    expect(firstBitDiff(w.z, c.z)).toBe(-1);
    expect(firstBitDiff(w.gx, c.gx)).toBe(-1);
    expect(firstBitDiff(w.gy, c.gy)).toBe(-1);
    expect(Math.abs(w.s - c.s)).toBeLessThanOrEqual(c.s * 1e-12);
  });
});
