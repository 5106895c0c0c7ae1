import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Tensor, createRng, noGrad } from '@llama-moe/tensor-core';
import { DenseFeedForward } from '@llama-moe/llama-model';
import { expertForward } from '@llama-moe/router/modules';
import { expertsFromDense } from '../moe/gather.js';
import { ActivationStats, carvePartition, carveSizes, defaultCarveSharedSize, neuronsByRate } from './carve.js';
import { partitionLayer } from './partition-layer.js';
import { validatePartition } from './validate.js';

describe('ActivationStats', () => {
  it('marks the top ⌈10 %⌉ neurons by |h| per token and counts co-occurrences', () => {
    const s = new ActivationStats(10);
    expect(s.topK).toBe(1);
    const t = new ActivationStats(4, { topFraction: 0.5 });
    // token 0: |h| largest at 2, 0; token 1: at 3, 2 (negative values count by magnitude)
    t.add(Float32Array.from([3, 1, -5, 0, 0, 1, 2, -9]), 2);
    expect(Array.from(t.counts)).toEqual([1, 0, 2, 1]);
    expect(Array.from(t.rates())).toEqual([0.5, 0, 1, 0.5]);
    expect(t.co[0 * 4 + 2]).toBe(1);
    expect(t.co[2 * 4 + 3]).toBe(1);
    expect(t.co[0 * 4 + 3]).toBe(0);
    expect(Array.from(neuronsByRate(t))).toEqual([2, 3, 0, 1]);
    expect(() => t.add(Float32Array.from([NaN, 0, 0, 0]), 1)).toThrow(/is NaN/);
    expect(() => new ActivationStats(4, { topFraction: 0 })).toThrow(/topFraction/);
  });

  it('marks exactly what a full sort (largest |h| first, ties by lower id) marks, ties included', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 6 }), fc.double({ min: 0.01, max: 1, noNaN: true }), fc.nat(), (F, N, frac, seed) => {
      const r = createRng(seed);
      // few distinct values, so ties are common
      const h = Float32Array.from({ length: N * F }, () => r.int(5) - 2);
      const s = new ActivationStats(F, { topFraction: frac });
      s.add(h, N);
      const counts = new Array<number>(F).fill(0);
      const co = new Array<number>(F * F).fill(0);
      for (let t = 0; t < N; t++) {
        const top = Array.from({ length: F }, (_, i) => i).sort((a, b) => Math.abs(h[t * F + b]!) - Math.abs(h[t * F + a]!) || a - b).slice(0, s.topK);
        for (const i of top) { counts[i]!++; for (const j of top) co[i * F + j]!++; }
      }
      expect(Array.from(s.counts)).toEqual(counts);
      expect(Array.from(s.co)).toEqual(co);
    }), { numRuns: 100 });
  });
});

/** Tokens that excite one planted group of neurons each, plus a few neurons that fire on every token. */
function planted(F: number, groups: number[][], always: number[], N: number, seed: number): ActivationStats {
  const rng = createRng(seed);
  const h = new Float32Array(N * F);
  for (let t = 0; t < N; t++) {
    for (let i = 0; i < F; i++) h[t * F + i] = rng.normal() * 0.01;
    for (const i of always) h[t * F + i] = 5 + rng.uniform();
    for (const i of groups[rng.int(groups.length)]!) h[t * F + i] = 2 + rng.uniform();
  }
  const s = new ActivationStats(F, { topFraction: (always.length + groups[0]!.length) / F });
  s.add(h, N);
  return s;
}

describe('carvePartition', () => {
  it('puts the always-active neurons into the shared expert and recovers co-activating groups as experts', () => {
    const F = 24;
    const groups = [[0, 5, 9, 13, 17], [1, 6, 10, 14, 18], [2, 7, 11, 15, 19], [3, 8, 12, 16, 20]];
    const always = [4, 21, 22, 23];
    const p = carvePartition(planted(F, groups, always, 400, 1), carveSizes(F, 4, 4), 4, { seed: 3 });
    validatePartition(p, F, { allowOverlap: false, requireCover: true });
    expect(Array.from(p.shared![0]!)).toEqual(always);
    expect(p.experts.map((e) => Array.from(e)).sort((a, b) => a[0]! - b[0]!)).toEqual(groups);
    p.experts.forEach((e, j) => expect(Array.from(e)).toContain(p.representatives[j]));
    expect(p.rates[4]).toBe(1);
  });

  it('names a missing or empty statistic and a bad shared size', () => {
    expect(() => carvePartition(new ActivationStats(8), [4, 4], 0)).toThrow(/no calibration tokens/);
    const s = planted(8, [[0, 1], [2, 3]], [], 10, 1);
    expect(() => carvePartition(s, [4, 4], 8)).toThrow(/shared size must be an integer in \[0, 7\]/);
    expect(() => partitionLayer('carve', {}, { intermediateSize: 8, numExperts: 2 })).toThrow(/method 'carve' needs activation statistics/);
    expect(() => carveSizes(8, 5, 4)).toThrow(/leaves 4, fewer than 5 routed experts/);
    expect(defaultCarveSharedSize(512, 7)).toBe(64);
    expect(carveSizes(10, 3, 0)).toEqual([4, 3, 3]);
  });

  it('core property: shared + routed experts with unit weights reconstruct the dense FFN (any shape, shared size, statistics)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 2, max: 36 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 5 }), fc.nat(), fc.nat(), (D, F, E0, T, shared0, seed) => {
      const E = Math.min(E0, F - 1);
      const shared = shared0 % (F - E + 1);
      const r = createRng(seed);
      const mk = (s: number[]) => new Tensor(Float32Array.from({ length: s[0]! * s[1]! }, () => r.normal()), s);
      const gate = mk([F, D]), up = mk([F, D]), down = mk([D, F]), x = mk([T, D]);
      const stats = new ActivationStats(F, { topFraction: 0.3 });
      stats.add(Float32Array.from({ length: 6 * F }, () => r.normal()), 6);
      const p = partitionLayer('carve', { activation: stats }, { intermediateSize: F, numExperts: E, sharedSizes: [shared], seed, layer: 1 });
      validatePartition(p, F, { allowOverlap: false, requireCover: true });
      expect(p.shared?.[0]?.length ?? 0).toBe(shared);
      const dense = noGrad(() => new DenseFeedForward(gate, up, down).forward(x)).f32();
      const all = [...p.experts, ...(p.shared ?? [])];
      const sum = new Float64Array(T * D);
      for (const e of expertsFromDense(gate.f32(), up.f32(), down.f32(), D, F, all)) noGrad(() => expertForward(e, x)).f32().forEach((v, i) => { sum[i]! += v; });
      let m = 0, d = 0;
      for (let i = 0; i < dense.length; i++) { m = Math.max(m, Math.abs(dense[i]!)); d = Math.max(d, Math.abs(sum[i]! - dense[i]!)); }
      expect(d / Math.max(m, 1e-30)).toBeLessThanOrEqual(1e-5);
      // seeded: the same inputs give the same partition
      const q = partitionLayer('carve', { activation: stats }, { intermediateSize: F, numExperts: E, sharedSizes: [shared], seed, layer: 1 });
      expect(q.experts.map((e) => Array.from(e))).toEqual(p.experts.map((e) => Array.from(e)));
    }), { numRuns: 80 });
  });
});
