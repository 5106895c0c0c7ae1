import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRng } from '@llama-moe/tensor-core';
import {
  RouterCalibration, centroidRows, fitExpertScales, fitRouterTemperature, fitTerms, kmeansRows, mostActiveNeurons, reconstructionError, ridgeRows, scaleRowsTo, solveSpd, type LayerFfn,
} from './router-fit.js';

const randn = (n: number, rng: ReturnType<typeof createRng>, s = 1) => Float32Array.from({ length: n }, () => rng.normal() * s);

describe('solveSpd', () => {
  it('solves random SPD systems to float64 precision', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 3 }), fc.nat(), (n, m, seed) => {
      const r = createRng(seed);
      const M = Float64Array.from({ length: n * n }, () => r.normal());
      const A = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) { let s = i === j ? 0.5 : 0; for (let p = 0; p < n; p++) s += M[i * n + p]! * M[j * n + p]!; A[i * n + j] = s; }
      const X = Float64Array.from({ length: n * m }, () => r.normal());
      const B = new Float64Array(n * m);
      for (let i = 0; i < n; i++) for (let c = 0; c < m; c++) { let s = 0; for (let p = 0; p < n; p++) s += A[i * n + p]! * X[p * m + c]!; B[i * m + c] = s; }
      const got = solveSpd(A, B, n, m);
      got.forEach((v, i) => expect(v).toBeCloseTo(X[i]!, 6));
    }), { numRuns: 50 });
    expect(() => solveSpd(Float64Array.from([1, 2, 2, 1]), Float64Array.from([1, 1]), 2, 1)).toThrow(/not positive definite/);
  });
});

/** A layer whose activation mass per expert is an exact linear function of x (so ridge can recover it). */
function linearMassLayer(D: number, E: number, N: number, seed: number) {
  const r = createRng(seed);
  const F = E * 2;
  const parts = Array.from({ length: E }, (_, e) => [2 * e, 2 * e + 1]);
  const x = randn(N * D, r);
  const h = new Float32Array(N * F);
  for (let t = 0; t < N; t++) {
    // expert e's mass share is 1/E + small linear signal in x_e
    for (let e = 0; e < E; e++) { const v = (1 + 0.5 * Math.tanh(x[t * D + (e % D)]!)) / 2; h[t * F + 2 * e] = v; h[t * F + 2 * e + 1] = -v; }
  }
  return { F, parts, x, h };
}

describe('router inits', () => {
  it('ridge ranks experts by the activation share the tokens give them; centroids and the most active neurons come from the same statistics', () => {
    const D = 6, E = 4, N = 600;
    const { F, parts, x, h } = linearMassLayer(D, E, N, 1);
    const cal = new RouterCalibration(D, F, parts, { sampleTokens: 128, seed: 1 });
    cal.add(x.subarray(0, 300 * D), h.subarray(0, 300 * F), 300);
    cal.add(x.subarray(300 * D), h.subarray(300 * F), 300);
    expect(cal.tokens).toBe(N);
    expect(cal.sampled).toBe(128);
    const rows = ridgeRows(cal);
    // the argmax of the ridge scores matches the argmax of the true mass on most tokens
    let agree = 0;
    for (let t = 0; t < N; t++) {
      let best = 0, bestMass = 0, sBest = -Infinity;
      for (let e = 0; e < E; e++) {
        const m = Math.abs(h[t * F + 2 * e]!);
        if (m > bestMass) { bestMass = m; best = e; }
      }
      let arg = 0;
      for (let e = 0; e < E; e++) { let s = 0; for (let d = 0; d < D; d++) s += rows[e * D + d]! * x[t * D + d]!; if (s > sBest) { sBest = s; arg = e; } }
      if (arg === best) agree++;
    }
    expect(agree / N).toBeGreaterThan(0.8);
    const c = centroidRows(cal);
    for (let e = 0; e < E; e++) expect(Math.hypot(...c.subarray(e * D, (e + 1) * D))).toBeCloseTo(1, 5);
    expect(Array.from(mostActiveNeurons(cal)).every((i, e) => parts[e]!.includes(i))).toBe(true);
    const s = scaleRowsTo(Float32Array.from(rows), E, D, 2);
    let ss = 0;
    for (const v of s) ss += v * v;
    expect(Math.sqrt(ss / E)).toBeCloseTo(2, 4);
  });

  it('kmeans: clusters of hidden states matched one-to-one to the experts their tokens activate', () => {
    const D = 4, E = 3, N = 300;
    const r = createRng(3);
    const F = 6;
    const parts = [[0, 1], [2, 3], [4, 5]];
    const x = new Float32Array(N * D), h = new Float32Array(N * F);
    for (let t = 0; t < N; t++) {
      const c = t % E;
      // token cluster c lies along axis c and activates expert (c + 1) % E
      for (let d = 0; d < D; d++) x[t * D + d] = (d === c ? 3 : 0) + r.normal() * 0.1;
      const e = (c + 1) % E;
      h[t * F + 2 * e] = 1;
    }
    const cal = new RouterCalibration(D, F, parts, { sampleTokens: N, seed: 2 });
    cal.add(x, h, N);
    const rows = kmeansRows(cal, 0, 0);
    for (let c = 0; c < E; c++) {
      const e = (c + 1) % E;
      expect(rows[e * D + c]!).toBeGreaterThan(0.99);
    }
  });
});

/** A random dense FFN layer split into shared + routed experts. */
function randomLayer(seed: number): LayerFfn & { xs: Float32Array; n: number } {
  const r = createRng(seed);
  const D = 8, F = 20, n = 64;
  const experts = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11], [12, 13, 14, 15]];
  return { D, F, n, gate: randn(F * D, r, 0.5), up: randn(F * D, r, 0.5), down: randn(D * F, r, 0.5), experts, shared: [[16, 17, 18, 19]], xs: randn(n * D, r) };
}

describe('training-free fits', () => {
  it('with every expert selected, unit weights and unit scales, the reconstruction error is zero', () => {
    const L = randomLayer(1);
    const rows = randn(4 * L.D, createRng(2));
    const T = fitTerms(L, L.xs, L.n, rows, 4);
    // tiny α: softmax weights 1/4 each, × score scale 4 = 1
    expect(reconstructionError(T, 1e-9, 4) / (T.dd.reduce((a, b) => a + b, 0) / L.n)).toBeLessThan(1e-6);
    expect(reconstructionError(T, 1e-9, 2)).toBeGreaterThan(1e-3);
  });

  it('the temperature fit is the best of its grid, and recalibration never does worse (and recovers planted scales)', () => {
    fc.assert(fc.property(fc.nat(), fc.integer({ min: 1, max: 3 }), (seed, k) => {
      const L = randomLayer(seed);
      const rows = randn(4 * L.D, createRng(seed + 1));
      const T = fitTerms(L, L.xs, L.n, rows, k);
      const fit = fitRouterTemperature(T, k);
      for (const a of [1e-3, 1e-1, 1, 10].map((v) => v / T.scoreStd)) expect(fit.error).toBeLessThanOrEqual(reconstructionError(T, a, k) * (1 + 1e-9) + 1e-12);
      const c = fitExpertScales(T, 4, fit.alpha, k);
      expect(reconstructionError(T, fit.alpha, k, c)).toBeLessThanOrEqual(fit.error * (1 + 1e-9));
    }), { numRuns: 20 });
    // With every expert on, a dense output whose shared part is doubled is matched by c_shared = 2:
    // the terms of y_dense' = y_dense + y_shared follow from L's own terms.
    const L = randomLayer(7);
    const Tl = fitTerms(L, L.xs, L.n, randn(4 * L.D, createRng(1)), 4);
    const mixed = { ...Tl, ds: Tl.ds.map((v, t) => v + Tl.ss[t]!), de: Tl.de.map((v, i) => v + Tl.se[i]!), dd: Tl.dd.map((v, t) => v + 2 * Tl.ds[t]! + Tl.ss[t]!) };
    const c = fitExpertScales(mixed, 4, 1e-9, 4, 1e-9);
    expect(c[0]).toBeCloseTo(2, 3);
    for (let e = 1; e <= 4; e++) expect(c[e]).toBeCloseTo(1, 3);
  });
});
