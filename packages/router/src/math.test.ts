import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { centralDiff, randn64 } from '../test/helpers.js';
import { entropyOf, erf, noiseControl, noiseControlBackward, normalCdf, normalPdf, softmaxRows, softmaxRowsBackward, softplus, topkRows, RouterError } from './index.js';
import { sortTopk, tiedLogits } from '../test/helpers.js';

/** erf by its Maclaurin series, accurate to ~1e-12 for |z| <= 4 in float64. */
function erfSeries(z: number): number {
  let term = z;
  let sum = z;
  for (let n = 1; n < 200; n++) {
    term *= (-z * z) / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-18) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/** Upper tail ∫_a^∞ φ by composite Simpson on [a, a + 30]. */
function upperTail(a: number): number {
  const n = 20000;
  const h = 30 / n;
  let s = normalPdf(a) + normalPdf(a + 30);
  for (let i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * normalPdf(a + i * h);
  return (s * h) / 3;
}

describe('normalCdf / erf', () => {
  it('matches the erf series to 1e-10 on [-5.6, 5.6]', () => {
    let worst = 0;
    for (let x = -5.6; x <= 5.6; x += 0.01) {
      const ref = 0.5 * (1 + erfSeries(x / Math.SQRT2));
      worst = Math.max(worst, Math.abs(normalCdf(x) - ref));
      expect(Math.abs(erf(x / 2) - erfSeries(x / 2))).toBeLessThan(1e-10);
    }
    expect(worst).toBeLessThan(1e-10);
  });

  it('has small relative error in the tails (|x| up to 30)', () => {
    for (const x of [4, 6, 7.5, 10, 15, 25, 30]) {
      const ref = upperTail(x);
      expect(Math.abs(normalCdf(-x) - ref) / ref).toBeLessThan(1e-6);
      expect(Math.abs(1 - normalCdf(x) - ref)).toBeLessThan(1e-7);
    }
    expect(normalCdf(-40)).toBe(0);
    expect(normalCdf(40)).toBe(1);
    expect(normalCdf(0)).toBeCloseTo(0.5, 15);
  });

  it('normalPdf is the derivative of normalCdf', () => {
    fc.assert(
      fc.property(fc.double({ min: -8, max: 8, noNaN: true }), (x) => {
        const fd = (normalCdf(x + 1e-5) - normalCdf(x - 1e-5)) / 2e-5;
        expect(Math.abs(fd - normalPdf(x))).toBeLessThan(1e-8);
      }),
    );
  });
});

describe('softplus / noiseControl', () => {
  it('follows torch softplus (threshold 20) and its backward is the sigmoid', () => {
    expect(softplus(0)).toBeCloseTo(Math.log(2), 15);
    expect(softplus(25)).toBe(25);
    expect(softplus(-50)).toBeCloseTo(Math.exp(-50), 30);
    const mm = randn64(31, 3, 4);
    const std = noiseControl(mm, 0.01);
    for (let i = 0; i < mm.length; i++) expect(std[i]).toBeCloseTo(Math.log1p(Math.exp(mm[i])) + 0.01, 12);
    const g = randn64(31, 4);
    const d = noiseControlBackward(mm, g);
    for (let i = 0; i < mm.length; i++) {
      const f = (x: Float64Array) => noiseControl(x, 0.01)[i] * g[i];
      expect(d[i]).toBeCloseTo(centralDiff(f, mm, i), 7);
    }
    expect(() => noiseControl(mm, -1)).toThrow(RouterError);
  });
});

describe('softmaxRows', () => {
  it('rows sum to 1, -Infinity is a zero, and the backward matches finite differences', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 1e6 }), (T, E, seed) => {
        const x = randn64(T * E, seed, 3);
        const p = new Float64Array(T * E);
        softmaxRows('t', x, T, E, p);
        for (let t = 0; t < T; t++) {
          let s = 0;
          for (let e = 0; e < E; e++) s += p[t * E + e];
          expect(s).toBeCloseTo(1, 12);
        }
        const g = randn64(T * E, seed + 1);
        const dx = new Float64Array(T * E);
        softmaxRowsBackward(p, g, T, E, dx);
        const f = (xx: Float64Array) => {
          const pp = new Float64Array(T * E);
          softmaxRows('t', xx, T, E, pp);
          return pp.reduce((a, v, i) => a + v * g[i], 0);
        };
        for (let i = 0; i < T * E; i++) expect(Math.abs(dx[i] - centralDiff(f, x, i))).toBeLessThan(1e-7);
      }),
      { numRuns: 30 },
    );
    const masked = new Float64Array([0, -Infinity, 1]);
    const p = new Float64Array(3);
    softmaxRows('t', masked, 1, 3, p);
    expect(p[1]).toBe(0);
    expect(() => softmaxRows('t', new Float64Array([-Infinity, -Infinity]), 1, 2, p)).toThrow(/softmax needs at least one finite logit/);
    expect(() => softmaxRows('t', new Float64Array([0, Number.NaN]), 1, 2, p)).toThrow(/NaN/);
  });
});

describe('topkRows', () => {
  it('equals a sort (descending value, lower index on ties), also with many ties', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 11 }), fc.integer({ min: 0, max: 1e6 }), fc.boolean(), (T, E, seed, ties) => {
        const m = 1 + (seed % E);
        const x = ties ? tiedLogits(T * E, seed) : new Float32Array(randn64(T * E, seed));
        const idx = new Int32Array(T * m);
        const val = new Float32Array(T * m);
        topkRows('t', x, T, E, m, idx, val);
        for (let t = 0; t < T; t++) {
          const ref = sortTopk(x.subarray(t * E, (t + 1) * E), m);
          expect(Array.from(idx.subarray(t * m, (t + 1) * m))).toEqual(ref);
          for (let j = 0; j < m; j++) expect(val[t * m + j]).toBe(x[t * E + ref[j]]);
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe('entropyOf', () => {
  it('is log(n) for uniform, 0 for one-hot and for all zeros', () => {
    expect(entropyOf([1, 1, 1, 1])).toBeCloseTo(Math.log(4), 14);
    expect(entropyOf([0, 5, 0])).toBe(0);
    expect(entropyOf([0, 0])).toBe(0);
  });
});
