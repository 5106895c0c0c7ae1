import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRng } from '@llama-moe/tensor-core';
import { CoActivationAccumulator } from './coactivation.js';
import { edgeCut, graphFromDense, graphFromEdges, type CsrGraph } from './graph.js';
import { graphPartition, partitionGraph } from './graph-partition.js';
import { randomPartition } from './random.js';
import { validatePartition } from './validate.js';

/** Random sizes ≥ 1 summing to n, k parts. */
function randomSizes(n: number, k: number, seed: number): number[] {
  const rng = createRng(seed);
  const s = new Array<number>(k).fill(1);
  for (let r = k; r < n; r++) s[rng.int(k)]!++;
  return s;
}

/** E dense blocks (edge prob pIn) with sparse noise between blocks (prob pOut), vertex ids shuffled. */
function planted(sizes: number[], pIn: number, pOut: number, seed: number) {
  const rng = createRng(seed);
  const n = sizes.reduce((a, b) => a + b, 0);
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) { const j = rng.int(i + 1); [perm[i], perm[j]] = [perm[j]!, perm[i]!]; }
  const block = new Int32Array(n);
  let t = 0;
  sizes.forEach((s, j) => { for (let c = 0; c < s; c++) block[perm[t++]!] = j; });
  const us: number[] = [];
  const vs: number[] = [];
  const ws: number[] = [];
  let cut = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const same = block[i] === block[j];
      if (rng.uniform() < (same ? pIn : pOut)) {
        const w = same ? 1 + rng.uniform() : 0.5 + 0.5 * rng.uniform();
        us.push(i); vs.push(j); ws.push(w);
        if (!same) cut += w;
      }
    }
  }
  const g = graphFromEdges(n, Int32Array.from(us), Int32Array.from(vs), Float64Array.from(ws));
  return { g, block, cut, n };
}

function randomGraph(n: number, p: number, seed: number): CsrGraph {
  const rng = createRng(seed);
  const us: number[] = [];
  const vs: number[] = [];
  const ws: number[] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (rng.uniform() < p) { us.push(i); vs.push(j); ws.push(rng.uniform() + 0.01); }
  return graphFromEdges(n, Int32Array.from(us), Int32Array.from(vs), Float64Array.from(ws));
}

describe('graphFromEdges', () => {
  it('builds symmetric, sorted CSR rows, merging duplicates and dropping self loops and non-positive weights', () => {
    const g = graphFromEdges(4, Int32Array.from([0, 1, 2, 3, 3, 2]), Int32Array.from([1, 0, 2, 1, 0, 3]), Float64Array.from([1, 2, 5, 3, -1, 0]));
    expect(Array.from(g.xadj)).toEqual([0, 1, 3, 3, 4]);
    expect(Array.from(g.adjncy)).toEqual([1, 0, 3, 1]);
    expect(Array.from(g.adjwgt)).toEqual([3, 3, 3, 3]);
    const gm = graphFromEdges(2, Int32Array.from([0, 1]), Int32Array.from([1, 0]), Float64Array.from([2, 2]), 'max');
    expect(Array.from(gm.adjwgt)).toEqual([2, 2]);
    expect(() => graphFromEdges(2, Int32Array.from([0]), Int32Array.from([2]), Float64Array.from([1]))).toThrow(/outside \[0, 2\)/);
  });
});

describe('CoActivationAccumulator', () => {
  it('accumulates W_ij = Σ a_i a_j exactly like a dense reference, over several batches and block sizes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 13 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 6 }), fc.constantFrom('magnitude' as const, 'binary' as const), fc.integer(), (F, N, blockRows, kind, seed) => {
        const rng = createRng(seed);
        const acc = new CoActivationAccumulator(F, { kind, blockRows });
        const ref = new Float64Array(F * F);
        for (let batch = 0; batch < 2; batch++) {
          const h = Float32Array.from({ length: N * F }, () => (rng.uniform() < 0.3 ? 0 : rng.normal()));
          acc.add(h, N);
          for (let t = 0; t < N; t++) for (let i = 0; i < F; i++) for (let j = 0; j < F; j++) {
            const a = kind === 'binary' ? (h[t * F + i]! > 0 ? 1 : 0) : Math.abs(h[t * F + i]!);
            const b = kind === 'binary' ? (h[t * F + j]! > 0 ? 1 : 0) : Math.abs(h[t * F + j]!);
            ref[i * F + j]! += a * b;
          }
        }
        expect(acc.tokens).toBe(2 * N);
        for (let i = 0; i < F; i++) for (let j = 0; j < F; j++) {
          if (i === j) expect(acc.weight(i, j)).toBe(0);
          else expect(acc.weight(i, j)).toBeCloseTo(ref[i * F + j]!, 4);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('toGraph keeps exactly the union of every neuron’s topK heaviest edges', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 14 }), fc.integer({ min: 1, max: 6 }), fc.integer(), (F, K, seed) => {
        const rng = createRng(seed);
        const acc = new CoActivationAccumulator(F);
        acc.add(Float32Array.from({ length: 4 * F }, () => (rng.uniform() < 0.4 ? 0 : rng.normal())), 4);
        const g = acc.toGraph({ topK: K });
        const inTop = (i: number, j: number) => {
          const row = Array.from({ length: F }, (_, x) => x).filter((x) => x !== i && acc.weight(i, x) > 0)
            .sort((a, b) => acc.weight(i, b) - acc.weight(i, a) || a - b);
          return row.slice(0, K).includes(j);
        };
        for (let i = 0; i < F; i++) {
          const nb = new Set(Array.from(g.adjncy.subarray(g.xadj[i]!, g.xadj[i + 1]!)));
          for (let j = 0; j < F; j++) {
            if (j === i) continue;
            expect(nb.has(j)).toBe(inTop(i, j) || inTop(j, i));
          }
          for (let e = g.xadj[i]!; e < g.xadj[i + 1]!; e++) expect(g.adjwgt[e]).toBeCloseTo(acc.weight(i, g.adjncy[e]!), 6);
        }
        const full = acc.toGraph({ topK: 0 });
        let positive = 0;
        for (let i = 0; i < F; i++) for (let j = i + 1; j < F; j++) if (acc.weight(i, j) > 0) positive++;
        expect(full.adjncy.length).toBe(2 * positive);
      }),
      { numRuns: 40 },
    );
  });
});

describe('partitionGraph', () => {
  it('returns parts of exactly the requested sizes and reports their true cut (random graphs, 1 ≤ E ≤ F)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 60 }), fc.double({ min: 0, max: 0.5, noNaN: true }), fc.integer(), (n, k0, p, seed) => {
        const k = Math.min(k0, n);
        const g = randomGraph(n, p, seed);
        const sizes = randomSizes(n, k, seed ^ 0x55);
        const r = partitionGraph(g, sizes, { seed });
        const counts = new Array<number>(k).fill(0);
        for (const l of r.labels) counts[l]!++;
        expect(counts).toEqual(sizes);
        expect(r.cut).toBeCloseTo(edgeCut(g, r.labels), 9);
        const again = partitionGraph(g, sizes, { seed });
        expect(Array.from(again.labels)).toEqual(Array.from(r.labels));
      }),
      { numRuns: 80 },
    );
  });

  it('recovers planted blocks exactly for any E (equal sizes) and beats random partitions by a wide margin', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 9 }), fc.integer({ min: 6, max: 30 }), fc.integer(), (E, size, seed) => {
        const sizes = new Array<number>(E).fill(size);
        const { g, block, cut, n } = planted(sizes, 0.8, 0.02, seed);
        const p = graphPartition(g, n, sizes, { seed });
        validatePartition(p, n);
        expect(p.edgeCut!).toBeCloseTo(cut, 9);
        for (const ids of p.experts) expect(new Set(Array.from(ids, (v) => block[v])).size).toBe(1);
        const rnd = randomPartition(n, sizes, { seed });
        const lab = new Int32Array(n);
        rnd.experts.forEach((ids, j) => ids.forEach((v) => { lab[v] = j; }));
        expect(p.edgeCut!).toBeLessThan(0.5 * edgeCut(g, lab));
      }),
      { numRuns: 25 },
    );
  });

  it('with unequal sizes keeps exact sizes, recovers clearly distinct blocks, and cuts far less than random', () => {
    // Sizes whose subset sums are all distinct: every planted block can be cut off unambiguously.
    const sizes = [9, 17, 33, 65];
    for (const seed of [1, 2, 3]) {
      const { g, block, cut, n } = planted(sizes, 0.6, 0.02, seed);
      const p = graphPartition(g, n, sizes, { seed });
      validatePartition(p, n);
      expect(p.edgeCut!).toBeCloseTo(cut, 9);
      for (const ids of p.experts) expect(new Set(Array.from(ids, (v) => block[v])).size).toBe(1);
    }
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 8, max: 40 }), { minLength: 2, maxLength: 7 }), fc.integer(), (sz, seed) => {
        const { g, n } = planted(sz, 0.8, 0.02, seed);
        const p = graphPartition(g, n, sz, { seed });
        validatePartition(p, n);
        expect(p.sizes).toEqual(sz);
        const rnd = randomPartition(n, sz, { seed });
        const lab = new Int32Array(n);
        rnd.experts.forEach((ids, j) => ids.forEach((v) => { lab[v] = j; }));
        expect(p.edgeCut!).toBeLessThan(0.5 * edgeCut(g, lab));
      }),
      { numRuns: 25 },
    );
  });

  it('partitions a 2000-vertex planted graph with 16 blocks exactly', () => {
    const sizes = new Array<number>(16).fill(125);
    const { g, block, cut, n } = planted(sizes, 0.1, 0.002, 99);
    const r = partitionGraph(g, sizes, { seed: 1 });
    expect(r.cut).toBeCloseTo(cut, 6);
    for (let j = 0; j < 16; j++) {
      const owners = new Set<number>();
      for (let v = 0; v < n; v++) if (r.labels[v] === j) owners.add(block[v]!);
      expect(owners.size).toBe(1);
    }
  });

  it('handles graphs without edges, E = 1 and E = F, and rejects bad sizes', () => {
    const empty = graphFromDense(new Float32Array(25), 5);
    expect(partitionGraph(empty, [2, 3]).cut).toBe(0);
    const g = randomGraph(9, 0.5, 3);
    expect(Array.from(partitionGraph(g, [9]).labels)).toEqual(new Array(9).fill(0));
    expect(new Set(partitionGraph(g, new Array(9).fill(1)).labels).size).toBe(9);
    expect(() => partitionGraph(g, [4, 4], { layer: 2 })).toThrow(/sum to 8 but the graph has 9 vertices \(layer 2\)/);
    expect(() => graphPartition(g, 10, [5, 5])).toThrow(/9 vertices but intermediate_size is 10/);
  });
});
