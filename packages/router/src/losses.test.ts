import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { centralDiff, randn64 } from '../test/helpers.js';
import { RouterError, cvSquared, cvSquaredBackward, routerZLoss, routerZLossBackward } from './index.js';

describe('cvSquared', () => {
  it('is unbiased var / (mean² + 1e-10), 0 for one element, and its backward matches finite differences', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 10, noNaN: true }), { minLength: 1, maxLength: 12 }), (xs) => {
        const n = xs.length;
        const mean = xs.reduce((a, b) => a + b, 0) / n;
        const v = n > 1 ? xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
        const ref = n > 1 ? v / (mean * mean + 1e-10) : 0;
        const got = cvSquared(xs);
        expect(Math.abs(got - ref)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(ref)));
      }),
    );
    expect(cvSquared([3])).toBe(0);
    expect(cvSquared([2, 2, 2])).toBe(0);
    expect(() => cvSquared([])).toThrow(RouterError);
    const x = new Float64Array([1, 2.5, 0.3, 4]);
    const g = cvSquaredBackward(x, 0.7);
    for (let i = 0; i < x.length; i++) expect(g[i]).toBeCloseTo(0.7 * centralDiff((xx) => cvSquared(xx), x, i), 7);
  });
});

describe('routerZLoss', () => {
  it('equals coef · mean(logsumexp²) and its backward matches finite differences', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 0, max: 1e6 }), (T, E, seed) => {
        const x = randn64(T * E, seed, 4);
        let ref = 0;
        for (let t = 0; t < T; t++) {
          let s = 0;
          for (let e = 0; e < E; e++) s += Math.exp(x[t * E + e]);
          ref += Math.log(s) ** 2;
        }
        ref = (ref / T) * 0.002;
        const fwd = routerZLoss(x, E, 0.002);
        expect(fwd.loss).toBeCloseTo(ref, 10);
        const d = routerZLossBackward(x, E, fwd, 0.002, 1.5);
        const f = (xx: Float64Array) => 1.5 * routerZLoss(xx, E, 0.002).loss;
        for (let i = 0; i < x.length; i++) expect(Math.abs(d[i] - centralDiff(f, x, i))).toBeLessThan(1e-8);
      }),
      { numRuns: 30 },
    );
  });

  it('defaults the coefficient to 1e-3 and rejects non-finite rows', () => {
    const x = new Float32Array([0, 0]);
    expect(routerZLoss(x, 2).loss).toBeCloseTo(1e-3 * Math.log(2) ** 2, 9);
    expect(() => routerZLoss(new Float32Array([Number.NaN, 0]), 2)).toThrow(RouterError);
    expect(() => routerZLoss(new Float32Array(3), 2)).toThrow(/not a multiple of E=2/);
  });
});
