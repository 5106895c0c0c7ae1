import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { centralDiff, randn, randn64, shapeArb, sortTopk, tiedLogits } from '../../test/helpers.js';
import { RouterError, createRng, noisyTopKBackward, noisyTopKGate, type NoisyTopKResult } from '../index.js';

/**
 * Independent Φ for the oracle: erf Maclaurin series for |x| <= 3, and the Mills-ratio continued
 * fraction φ(a)/(a + 1/(a + 2/(a + ...))) beyond, both good to ~1e-15 there.
 */
function phiRef(x: number): number {
  const a = Math.abs(x);
  if (a > 3) {
    let cf = a;
    for (let n = 300; n >= 1; n--) cf = a + n / cf;
    const tail = Math.exp(-0.5 * a * a) / Math.sqrt(2 * Math.PI) / cf;
    return x > 0 ? 1 - tail : tail;
  }
  const z = x / Math.SQRT2;
  let term = z;
  let sum = z;
  for (let n = 1; n < 300; n++) {
    term *= (-z * z) / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-20) break;
  }
  return 0.5 * (1 + (2 / Math.sqrt(Math.PI)) * sum);
}

function noiseFor(T: number, E: number, seed: number) {
  const rng = createRng(seed ^ 0x5bd1e995);
  const noise_std = new Float64Array(T * E);
  for (let i = 0; i < noise_std.length; i++) noise_std[i] = 0.05 + rng.uniform();
  const eps = rng.fillNormal(new Float64Array(T * E));
  return { noise_std, eps };
}

describe('noisyTopKGate forward', () => {
  it('routes every token to exactly k distinct experts, the top-k by noisy logit', () => {
    fc.assert(
      fc.property(shapeArb(), fc.boolean(), fc.boolean(), ({ T, E, k, seed }, ties, noisy) => {
        const H = ties ? tiedLogits(T * E, seed) : (randn(T * E, seed) as Float32Array);
        const noise = noisy ? { noise_std: new Float32Array(T * E).fill(0.3), eps: randn(T * E, seed + 1) as Float32Array } : null;
        const r = noisyTopKGate(H, E, { num_selects: k, noise });
        const nz = r.intermediates.noisyLogits;
        for (let t = 0; t < T; t++) {
          const row = Array.from(r.topkIndices.subarray(t * k, (t + 1) * k));
          expect(new Set(row).size).toBe(k);
          expect(row).toEqual(sortTopk(nz.subarray(t * E, (t + 1) * E), k));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('scores are a softmax over the selected logits (sum 1) or the raw logits, and importance sums them', () => {
    fc.assert(
      fc.property(shapeArb(), fc.boolean(), ({ T, E, k, seed }, useSoftmax) => {
        const H = randn64(T * E, seed, 2);
        const r = noisyTopKGate(H, E, { num_selects: k, use_softmax: useSoftmax });
        const imp = new Float64Array(E);
        for (let t = 0; t < T; t++) {
          let sum = 0;
          let z = 0;
          for (let j = 0; j < k; j++) z += Math.exp(H[t * E + r.topkIndices[t * k + j]]);
          for (let j = 0; j < k; j++) {
            const e = r.topkIndices[t * k + j];
            const want = useSoftmax ? Math.exp(H[t * E + e]) / z : H[t * E + e];
            expect(r.topkScores[t * k + j]).toBeCloseTo(want, 12);
            sum += r.topkScores[t * k + j];
            imp[e] += r.topkScores[t * k + j];
          }
          if (useSoftmax) expect(sum).toBeCloseTo(1, 12);
        }
        for (let e = 0; e < E; e++) expect(r.importance[e]).toBeCloseTo(imp[e], 12);
      }),
      { numRuns: 100 },
    );
  });

  it('without noise (or with k = E) the load is the routed-token count and sums to T·k', () => {
    fc.assert(
      fc.property(shapeArb(), ({ T, E, k, seed }) => {
        const H = randn(T * E, seed) as Float32Array;
        const r = noisyTopKGate(H, E, { num_selects: k });
        expect(r.load.reduce((a, b) => a + b, 0)).toBe(T * k);
        const all = noisyTopKGate(H, E, { num_selects: E, noise: { noise_std: new Float32Array(T * E).fill(1), eps: randn(T * E, seed + 9) as Float32Array } });
        expect(all.intermediates.smoothLoad).toBe(false);
        for (let e = 0; e < E; e++) expect(all.load[e]).toBe(T);
      }),
      { numRuns: 60 },
    );
  });

  it('the smooth load estimator matches a direct float64 computation of Shazeer et al.', () => {
    fc.assert(
      fc.property(shapeArb(13, 9, 2), ({ T, E, k, seed }) => {
        fc.pre(k < E);
        const H = randn64(T * E, seed, 1.5);
        const noise = noiseFor(T, E, seed);
        const r = noisyTopKGate(H, E, { num_selects: k, noise });
        expect(r.intermediates.smoothLoad).toBe(true);
        const load = new Float64Array(E);
        for (let t = 0; t < T; t++) {
          const noisy = Array.from({ length: E }, (_, e) => H[t * E + e] + noise.eps[t * E + e] * noise.noise_std[t * E + e]);
          const sorted = [...noisy].sort((a, b) => b - a);
          const thrIn = sorted[k];
          const thrOut = sorted[k - 1];
          for (let e = 0; e < E; e++) {
            const inside = noisy[e] > thrIn;
            load[e] += phiRef((H[t * E + e] - (inside ? thrIn : thrOut)) / noise.noise_std[t * E + e]);
          }
        }
        for (let e = 0; e < E; e++) expect(Math.abs(r.load[e] - load[e])).toBeLessThan(1e-9);
        const cv = (x: ArrayLike<number>) => {
          const n = x.length;
          const m = Array.from(x).reduce((a, b) => a + b, 0) / n;
          return Array.from(x).reduce((a, b) => a + (b - m) ** 2, 0) / (n - 1) / (m * m + 1e-10);
        };
        expect(r.balanceLoss).toBeCloseTo(0.01 * (cv(r.importance) + cv(load)), 10);
      }),
      { numRuns: 80 },
    );
  });

  it('reference_is_in_quirk compares the noise itself with the threshold, as the released LLaMA-MoE code does', () => {
    const T = 5;
    const E = 4;
    const H = randn64(T * E, 11, 2);
    const noise = noiseFor(T, E, 12);
    const r = noisyTopKGate(H, E, { num_selects: 2, noise, reference_is_in_quirk: true });
    for (let t = 0; t < T; t++) {
      const thrIn = r.intermediates.topValues[t * 3 + 2];
      for (let e = 0; e < E; e++) {
        const i = t * E + e;
        expect(r.intermediates.isIn![i]).toBe(noise.eps[i] * noise.noise_std[i] > thrIn ? 1 : 0);
      }
    }
  });

  it('balance loss is 0 for perfectly uniform routing and positive otherwise', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 1e6 }), (E, reps, seed) => {
        const k = 1 + (seed % E);
        const T = E * reps;
        // Token t picks experts t, t+1, ..., t+k−1 (mod E) with equal logits: every expert gets
        // reps·k tokens and equal importance.
        const H = new Float32Array(T * E);
        for (let t = 0; t < T; t++) for (let j = 0; j < k; j++) H[t * E + ((t + j) % E)] = 5;
        const uniform = noisyTopKGate(H, E, { num_selects: k });
        expect(uniform.balanceLoss).toBeCloseTo(0, 12);
        const R = randn(T * E, seed, 3) as Float32Array;
        const r = noisyTopKGate(R, E, { num_selects: k });
        const unequal = (x: Float64Array) => x.some((v) => Math.abs(v - x[0]) > 1e-6);
        if (E > 1 && (unequal(r.importance) || unequal(r.load))) expect(r.balanceLoss).toBeGreaterThan(0);
        if (E === 1) expect(r.balanceLoss).toBe(0);
      }),
      { numRuns: 100 },
    );
  });

  it('rejects bad options and inputs with typed errors', () => {
    const H = new Float32Array(6);
    expect(() => noisyTopKGate(H, 3, { num_selects: 4 })).toThrow(/num_selects=4 exceeds the number of experts 3/);
    expect(() => noisyTopKGate(H, 4, { num_selects: 1 })).toThrow(RouterError);
    expect(() => noisyTopKGate(H, 3, { num_selects: 1, noise: { noise_std: new Float32Array(6), eps: new Float32Array(6) } })).toThrow(/must be > 0/);
    expect(() => noisyTopKGate(H, 3, { num_selects: 1, noise: { noise_std: new Float32Array(5).fill(1), eps: new Float32Array(6) } })).toThrow(/noise.noise_std/);
    expect(() => noisyTopKGate(new Float32Array([0, Number.NaN, 1]), 3, { num_selects: 1 })).toThrow(/NaN/);
  });
});

describe('noisyTopKBackward', () => {
  /** Loss used for the checks: Σ g·scores + dB · balanceLoss. */
  function lossOf(r: NoisyTopKResult<Float64Array>, g: Float64Array, dB: number): number {
    let s = dB * r.balanceLoss;
    for (let i = 0; i < g.length; i++) s += g[i] * r.topkScores[i];
    return s;
  }

  function sameRouting(a: NoisyTopKResult<Float64Array>, b: NoisyTopKResult<Float64Array>): boolean {
    const ia = a.intermediates;
    const ib = b.intermediates;
    if (ia.topIndices.some((v, i) => v !== ib.topIndices[i])) return false;
    if (ia.isIn && ib.isIn && ia.isIn.some((v, i) => v !== ib.isIn![i])) return false;
    return true;
  }

  it('matches central finite differences in float64 (scores, importance, smooth load, thresholds, noise_std)', () => {
    fc.assert(
      fc.property(shapeArb(7, 7, 1), fc.boolean(), fc.boolean(), ({ T, E, k, seed }, noisy, useSoftmax) => {
        const H = randn64(T * E, seed, 1.5);
        const noise = noisy ? noiseFor(T, E, seed) : null;
        const g = randn64(T * k, seed + 3);
        const dB = 0.5 + (seed % 7);
        const opts = { num_selects: k, use_softmax: useSoftmax, balance_loss_weight: 0.05 };
        const fwd = noisyTopKGate(H, E, { ...opts, noise });
        const { dLogits, dNoiseStd } = noisyTopKBackward(fwd, { dTopkScores: g, dBalanceLoss: dB });
        const h = 1e-6;
        let checked = 0;
        for (let i = 0; i < T * E; i++) {
          const at = (x: Float64Array) => noisyTopKGate(x, E, { ...opts, noise });
          const probe = (d: number) => {
            const x = H.slice();
            x[i] += d;
            return at(x);
          };
          if (!sameRouting(probe(h), fwd) || !sameRouting(probe(-h), fwd)) continue;
          const fd = centralDiff((x) => lossOf(at(x), g, dB), H, i, h);
          expect(Math.abs(dLogits[i] - fd)).toBeLessThan(1e-6 * Math.max(1, Math.abs(fd)));
          checked++;
          if (noise) {
            const std = noise.noise_std;
            const atStd = (s: Float64Array) => noisyTopKGate(H, E, { ...opts, noise: { noise_std: s, eps: noise.eps } });
            const sp = std.slice();
            sp[i] += h;
            const sm = std.slice();
            sm[i] -= h;
            if (!sameRouting(atStd(sp), fwd) || !sameRouting(atStd(sm), fwd)) continue;
            const fds = centralDiff((s) => lossOf(atStd(s), g, dB), std, i, h);
            expect(Math.abs(dNoiseStd![i] - fds)).toBeLessThan(1e-6 * Math.max(1, Math.abs(fds)));
          }
        }
        expect(checked).toBeGreaterThan(0);
        if (!noise) expect(dNoiseStd).toBeNull();
      }),
      { numRuns: 60 },
    );
  });

  it('gives zero gradient when nothing flows in, and respects use_balance', () => {
    const H = randn64(12, 1);
    const fwd = noisyTopKGate(H, 4, { num_selects: 2, use_balance: false, noise: noiseFor(3, 4, 2) });
    expect(fwd.balanceLoss).toBe(0);
    const { dLogits, dNoiseStd } = noisyTopKBackward(fwd, { dBalanceLoss: 1 });
    expect(Array.from(dLogits).every((v) => v === 0)).toBe(true);
    expect(Array.from(dNoiseStd!).every((v) => v === 0)).toBe(true);
    expect(() => noisyTopKBackward(fwd, { dTopkScores: new Float64Array(5) })).toThrow(RouterError);
  });
});
