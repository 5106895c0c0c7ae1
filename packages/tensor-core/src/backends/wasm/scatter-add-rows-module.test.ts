import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scatterAddRowsCpu } from '../cpu/scatter-add-rows.js';
import { lastBackend, runKernel, setBackend, type ScatterAddRowsArgs } from '../../registry.js';
import { randomF32 } from '../../bench/gemm-reference.js';
import { disposeWasmBackend, initWasmBackend } from './index.js';
import { WasmScatterAddRows } from './scatter-add-rows-module.js';

describe('wasm scatterAddRows kernel', () => {
  beforeAll(async () => {
    expect((await initWasmBackend({ threads: 1 })).ok).toBe(true);
  });
  afterAll(() => {
    disposeWasmBackend();
    setBackend(['cpu']);
  });

  it('property: equals the oracle to f32 accuracy; blocks of any size (empty included), repeated and missing rows, with and without factors', () => {
    const k = WasmScatterAddRows.create();
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 12 }),
      fc.constantFrom(4, 8, 36, 4096),
      fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 5 }),
      fc.integer({ min: 0, max: 2 ** 30 }),
      fc.boolean(),
      fc.double({ min: -4, max: 4, noNaN: true }),
      (rows, cols, sizes, seed, withCoef, alpha) => {
        const S = sizes.reduce((a, b) => a + b, 0);
        const src = sizes.map((n, i) => randomF32(n * cols, seed + i));
        const index = Int32Array.from({ length: S }, (_, s) => (s * 7 + seed) % rows);
        const coef = withCoef ? randomF32(S, seed + 99) : null;
        const out0 = randomF32(rows * cols, seed + 50);
        const a: ScatterAddRowsArgs = { src, index, coef, alpha, out: out0.slice(), cols };
        const b: ScatterAddRowsArgs = { ...a, out: out0.slice() };
        scatterAddRowsCpu(a);
        k.run(b);
        let d = 0, sc = 1e-3;
        for (let i = 0; i < a.out.length; i++) { d = Math.max(d, Math.abs(a.out[i]! - b.out[i]!)); sc = Math.max(sc, Math.abs(a.out[i]!)); }
        expect(d / sc).toBeLessThan(1e-5);
      },
    ), { numRuns: 80 });
  });

  it('runs on wasm through the registry for rows of a multiple of 4 floats, and falls back to cpu otherwise', () => {
    setBackend(['wasm']);
    const run = (cols: number) => {
      const out = new Float32Array(2 * cols);
      runKernel('scatterAddRows', { src: [new Float32Array(3 * cols).fill(1)], index: Int32Array.of(1, 0, 1), coef: Float32Array.of(1, 2, 3), alpha: 0.5, out, cols });
      return out;
    };
    expect(Array.from(run(4))).toEqual([1, 1, 1, 1, 2, 2, 2, 2]);
    expect(lastBackend('scatterAddRows')).toBe('wasm');
    expect(Array.from(run(3))).toEqual([1, 1, 1, 2, 2, 2]);
    expect(lastBackend('scatterAddRows')).toBe('cpu');
  });
});
