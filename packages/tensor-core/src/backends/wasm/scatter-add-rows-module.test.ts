import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scatterAddRowsBackwardCpu, scatterAddRowsCpu } from '../cpu/scatter-add-rows.js';
import { lastBackend, runKernel, setBackend, type ScatterAddRowsArgs, type ScatterAddRowsBackwardArgs } from '../../registry.js';
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

  it('property: the backward (row gradients and factor gradients) equals the oracle to f32 accuracy; blocks without a gradient skipped', () => {
    const k = WasmScatterAddRows.create();
    const rel = (x: Float32Array, y: Float32Array) => {
      let d = 0, sc = 1e-3;
      for (let i = 0; i < x.length; i++) { d = Math.max(d, Math.abs(x[i]! - y[i]!)); sc = Math.max(sc, Math.abs(y[i]!)); }
      return d / sc;
    };
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 12 }),
      fc.constantFrom(4, 8, 36, 4096),
      fc.array(fc.record({ n: fc.integer({ min: 0, max: 40 }), grad: fc.boolean() }), { minLength: 1, maxLength: 5 }),
      fc.integer({ min: 0, max: 2 ** 30 }),
      fc.boolean(), fc.boolean(),
      fc.double({ min: -4, max: 4, noNaN: true }),
      (rows, cols, blocks, seed, withCoef, withDcoef, alpha) => {
        const S = blocks.reduce((a, b) => a + b.n, 0);
        const src = blocks.map((b, i) => randomF32(b.n * cols, seed + i));
        const index = Int32Array.from({ length: S }, (_, s) => (s * 5 + seed) % rows);
        const mk = (): ScatterAddRowsBackwardArgs => ({
          g: randomF32(rows * cols, seed + 77), src, index, coef: withCoef ? randomF32(S, seed + 99) : null, alpha,
          dsrc: blocks.map((b) => (b.grad ? new Float32Array(b.n * cols).fill(9) : null)), dcoef: withDcoef ? new Float32Array(S).fill(9) : null, cols,
        });
        const a = mk(), b = mk();
        scatterAddRowsBackwardCpu(a);
        k.runBackward(b);
        a.dsrc.forEach((d, i) => { if (d) expect(rel(b.dsrc[i]!, d)).toBeLessThan(1e-5); else expect(b.dsrc[i]).toBeNull(); });
        if (withDcoef) expect(rel(b.dcoef!, a.dcoef!)).toBeLessThan(1e-5);
      },
    ), { numRuns: 80 });
  });
});
