import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRng } from '@llama-moe/tensor-core';
import { balancedAssign } from './assignment.js';
import { clusteringPartition } from './clustering.js';
import { balancedKMeans } from './kmeans.js';
import { validatePartition } from './validate.js';

/** E Gaussian blobs of the given sizes around random unit directions, rows shuffled. Returns points [n, d] and the blob of each row. */
function blobs(sizes: number[], d: number, seed: number, noise = 0.02) {
  const rng = createRng(seed);
  const n = sizes.reduce((a, b) => a + b, 0);
  const centres = new Float64Array(sizes.length * d);
  for (let j = 0; j < sizes.length; j++) {
    let s = 0;
    for (let p = 0; p < d; p++) { const v = rng.normal(); centres[j * d + p] = v; s += v * v; }
    for (let p = 0; p < d; p++) centres[j * d + p]! /= Math.sqrt(s);
  }
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) { const j = rng.int(i + 1); [order[i], order[j]] = [order[j]!, order[i]!]; }
  const x = new Float32Array(n * d);
  const truth = new Int32Array(n);
  let t = 0;
  for (let j = 0; j < sizes.length; j++) {
    for (let c = 0; c < sizes[j]!; c++, t++) {
      const row = order[t]!;
      truth[row] = j;
      for (let p = 0; p < d; p++) x[row * d + p] = centres[j * d + p]! * 3 + rng.normal() * noise;
    }
  }
  return { x, truth, n };
}

/** Brute-force optimum of a tiny balanced assignment (all label vectors with the right counts). */
function bruteForce(cost: Float64Array, n: number, k: number, caps: number[]): number {
  let best = Infinity;
  const lab = new Int32Array(n);
  const left = [...caps];
  const rec = (i: number, acc: number) => {
    if (acc >= best) return;
    if (i === n) { best = acc; return; }
    for (let j = 0; j < k; j++) {
      if (left[j] === 0) continue;
      left[j]!--; lab[i] = j;
      rec(i + 1, acc + cost[i * k + j]!);
      left[j]!++;
    }
  };
  rec(0, 0);
  return best;
}

describe('balancedAssign (auction)', () => {
  it('meets capacities exactly and matches the brute-force optimum on small problems', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 4 }), fc.integer(), (n, k0, seed) => {
        const k = Math.min(k0, n);
        const rng = createRng(seed);
        const caps = new Array<number>(k).fill(1);
        for (let r = k; r < n; r++) caps[rng.int(k)]!++;
        const cost = new Float64Array(n * k);
        for (let t = 0; t < cost.length; t++) cost[t] = Math.round(rng.uniform() * 20) / 4;
        const res = balancedAssign(cost, n, k, caps);
        const counts = new Array<number>(k).fill(0);
        for (const l of res.labels) counts[l]!++;
        expect(counts).toEqual(caps);
        expect(res.cost).toBeLessThanOrEqual(bruteForce(cost, n, k, caps) + n * 5 * 1e-7 + 1e-9);
      }),
      { numRuns: 150 },
    );
  });

  it('allows zero capacities and rejects a capacity total different from n', () => {
    const cost = Float64Array.from([0, 1, 1, 0, 5, 5]);
    expect(Array.from(balancedAssign(cost, 3, 2, [3, 0]).labels)).toEqual([0, 0, 0]);
    expect(() => balancedAssign(cost, 3, 2, [2, 2])).toThrow(/capacities sum to 4 but there are 3 points/);
    expect(() => balancedAssign(Float64Array.from([0, NaN]), 1, 2, [1, 0])).toThrow(/finite/);
  });
});

describe('balancedKMeans', () => {
  it('recovers well-separated blobs of unequal sizes exactly, for both metrics', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 3, max: 24 }),
        fc.integer(),
        fc.constantFrom('l2' as const, 'cos' as const),
        (sizes, d, seed, metric) => {
          const { x, truth, n } = blobs(sizes, Math.max(d, 2 * sizes.length), seed);
          const dd = Math.max(d, 2 * sizes.length);
          const r = balancedKMeans(x, n, dd, sizes, { seed, metric, nInit: 4 });
          const counts = new Array<number>(sizes.length).fill(0);
          for (const l of r.labels) counts[l]!++;
          expect(counts).toEqual(sizes);
          // Same clustering as the blobs: labels agree up to a bijection.
          const map = new Map<number, number>();
          for (let i = 0; i < n; i++) {
            const m = map.get(r.labels[i]!);
            if (m === undefined) map.set(r.labels[i]!, truth[i]!);
            else expect(m).toBe(truth[i]);
          }
          expect(new Set(map.values()).size).toBe(map.size);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('records a non-increasing objective on unstructured data', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 60 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 6 }), fc.integer(), fc.constantFrom('l2' as const, 'cos' as const), (n, d, k0, seed, metric) => {
        const k = Math.min(k0, n);
        const rng = createRng(seed);
        const x = new Float32Array(n * d);
        for (let t = 0; t < x.length; t++) x[t] = rng.normal();
        const sizes = new Array<number>(k).fill(1);
        for (let r = k; r < n; r++) sizes[rng.int(k)]!++;
        const r = balancedKMeans(x, n, d, sizes, { seed, metric, tol: 0, maxIter: 30 });
        expect(r.objectiveHistory.length).toBe(r.iterations);
        for (let t = 1; t < r.objectiveHistory.length; t++) {
          expect(r.objectiveHistory[t]!).toBeLessThanOrEqual(r.objectiveHistory[t - 1]! * (1 + 1e-12) + 1e-12);
        }
        expect(r.objective).toBeLessThanOrEqual(r.objectiveHistory.at(-1)! * (1 + 1e-9) + 1e-9);
        const counts = new Array<number>(k).fill(0);
        for (const l of r.labels) counts[l]!++;
        expect(counts).toEqual(sizes);
      }),
      { numRuns: 60 },
    );
  });

  it('is deterministic for a seed, and handles k = 1 and k = n', () => {
    const rng = createRng(5);
    const n = 13, d = 4;
    const x = Float32Array.from({ length: n * d }, () => rng.normal());
    const a = balancedKMeans(x, n, d, [5, 8], { seed: 3 });
    const b = balancedKMeans(x, n, d, [5, 8], { seed: 3 });
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    expect(Array.from(a.centroids)).toEqual(Array.from(b.centroids));
    expect(Array.from(balancedKMeans(x, n, d, [n]).labels)).toEqual(new Array(n).fill(0));
    const all = balancedKMeans(x, n, d, new Array(n).fill(1), { seed: 1 });
    expect(new Set(all.labels).size).toBe(n);
  });
});

describe('clusteringPartition', () => {
  it('returns a valid disjoint cover with centroids [E, D] and clusters blobs of up_proj rows', () => {
    const sizes = [7, 3, 12];
    const { x, truth, n } = blobs(sizes, 16, 11);
    // Scale rows differently: normalisation must make row length irrelevant.
    for (let i = 0; i < n; i++) for (let p = 0; p < 16; p++) x[i * 16 + p]! *= 1 + (i % 5);
    const p = clusteringPartition(x, n, 16, sizes, { seed: 2, metric: 'cos', layer: 4 });
    validatePartition(p, n, { allowOverlap: false, requireCover: true });
    expect(p.sizes).toEqual(sizes);
    expect(p.centroids!.length).toBe(3 * 16);
    for (const ids of p.experts) expect(new Set(Array.from(ids, (i) => truth[i])).size).toBe(1);
    expect(() => clusteringPartition(x, n, 16, [7, 3, 11], { layer: 4 })).toThrow(/sums to 21 but intermediate_size is 22;.*\(layer 4\)/);
    expect(() => clusteringPartition(x.subarray(1), n, 16, sizes)).toThrow(/up_proj.weight must have 352 elements/);
  });
});
