import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastBackend, runKernel, setBackend } from '../../registry.js';
import { checkMatmul, type MatmulProblem } from '../../testing/matmul-problem.js';
import { gemvForm } from '../gemv-form.js';
import { disposeWasmBackend, initWasmBackend } from './index.js';
import { WasmGemv } from './gemv-module.js';

/** A product with M = 1 or N = 1: every transpose, batch with broadcast strides, accumulate. */
const problem = fc.record({
  oneRow: fc.boolean(),
  other: fc.oneof(fc.integer({ min: 1, max: 13 }).map((x) => 4 * x), fc.integer({ min: 1, max: 70 })),
  k: fc.oneof(fc.integer({ min: 1, max: 40 }).map((x) => 4 * x), fc.integer({ min: 1, max: 90 })),
  batch: fc.integer({ min: 1, max: 3 }),
  transA: fc.boolean(),
  transB: fc.boolean(),
  broadcastA: fc.boolean(),
  broadcastB: fc.boolean(),
  accumulate: fc.boolean(),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

/** The one-row (or one-column) problem as a general one. */
const general = (p: typeof problem extends fc.Arbitrary<infer T> ? T : never): MatmulProblem =>
  ({ ...p, m: p.oneRow ? 1 : p.other, n: p.oneRow ? p.other : 1 });

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
      fc.pre(WasmGemv.supports(general(p)));
      checkMatmul((a) => gemv.run(a), general(p));
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
