import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expRowsCpu } from '../cpu/exp-rows.js';
import { lastBackend, runKernel, setBackend, type ExpRowsArgs } from '../../registry.js';
import { disposeWasmBackend, initWasmBackend } from './index.js';
import { EXP_MIN, WasmExpRows } from './exp-rows-module.js';

function args(x: Float32Array, rows: number, cols: number, withOut: boolean): ExpRowsArgs {
  return { x, out: withOut ? new Float32Array(rows * cols) : null, rows, cols, max: new Float32Array(rows), sum: new Float64Array(rows) };
}

describe('wasm expRows kernel', () => {
  beforeAll(async () => {
    expect((await initWasmBackend({ threads: 1 })).ok).toBe(true);
  });
  afterAll(() => {
    disposeWasmBackend();
    setBackend(['cpu']);
  });

  it('property: maxima equal the oracle\'s, exponentials within 1e-6 (+ the f32 rounding of x − max) relative, f64 sums within 1e-6; any width (padding lanes add nothing)', () => {
    const k = WasmExpRows.create();
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 300 }),
      fc.float({ min: Math.fround(0.01), max: 60, noNaN: true }),
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      fc.boolean(),
      (rows, cols, spread, seed, withOut) => {
        const x = new Float32Array(rows * cols);
        let s = seed;
        for (let i = 0; i < x.length; i++) {
          s = (Math.imul(s, 1103515245) + 12345) >>> 0;
          x[i] = ((s / 2 ** 32) * 2 - 1) * spread;
        }
        const a = args(x, rows, cols, withOut), b = args(x, rows, cols, withOut);
        expRowsCpu(a);
        k.run(b);
        expect(Array.from(b.max)).toEqual(Array.from(a.max));
        for (let r = 0; r < rows; r++) expect(Math.abs(b.sum[r]! - a.sum[r]!) / a.sum[r]!).toBeLessThan(1e-6);
        if (withOut) {
          for (let i = 0; i < x.length; i++) {
            const ref = a.out![i]!;
            const t = x[i]! - a.max[Math.floor(i / cols)]!;
            // x − max is rounded to f32 first: half an ulp of t, i.e. 6e-8·|t| more relative error
            if (t < EXP_MIN) expect(b.out![i]).toBe(0);
            else expect(Math.abs(b.out![i]! - ref)).toBeLessThanOrEqual((1e-6 + 6e-8 * Math.abs(t)) * ref);
          }
        }
      },
    ), { numRuns: 150 });
  });

  it('exactly 1 at the maximum, 0 for −∞ and below the cut-off, and a wide row grows the scratch memory', () => {
    const k = WasmExpRows.create();
    const cols = 70000;
    const x = new Float32Array(cols).fill(-1);
    x[5] = 3; x[6] = -Infinity; x[7] = 3 - 100;
    const a = args(x, 1, cols, true);
    k.run(a);
    expect(a.max[0]).toBe(3);
    expect(a.out![5]).toBe(1);
    expect(a.out![6]).toBe(0);
    expect(a.out![7]).toBe(0);
    const ref = args(x, 1, cols, true);
    expRowsCpu(ref);
    expect(Math.abs(a.sum[0]! - ref.sum[0]!) / ref.sum[0]!).toBeLessThan(1e-6);
  });

  it('a NaN in a row makes its sum NaN; the registry runs the kernel on wasm', () => {
    setBackend(['wasm']);
    const x = Float32Array.of(1, 2, NaN, 0, 5, 6, 7, 8);
    const a = args(x, 2, 4, true);
    runKernel('expRows', a);
    expect(lastBackend('expRows')).toBe('wasm');
    expect(Number.isNaN(a.sum[0])).toBe(true);
    expect(a.sum[1]).toBeCloseTo(Math.exp(-3) + Math.exp(-2) + Math.exp(-1) + 1, 6);
  });
});
