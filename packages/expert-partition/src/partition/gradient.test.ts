import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRng } from '@llama-moe/tensor-core';
import { gradientPartition, sharingInnerPartition, sharingInterPartition } from './gradient.js';
import { ImportanceAccumulator } from './importance.js';
import { validatePartition } from './validate.js';

function randomSizes(n: number, k: number, seed: number): number[] {
  const rng = createRng(seed);
  const s = new Array<number>(k).fill(1);
  for (let r = k; r < n; r++) s[rng.int(k)]!++;
  return s;
}

/** Importance [E, F] with small integer values (many ties). */
function randomImportance(E: number, F: number, seed: number): Float64Array {
  const rng = createRng(seed);
  return Float64Array.from({ length: E * F }, () => rng.int(5));
}

describe('ImportanceAccumulator', () => {
  it('sums |h ⊙ dh| per cluster and normalises by token count', () => {
    const acc = new ImportanceAccumulator(3, 2);
    acc.add(0, Float32Array.from([1, -2, 0, 3, 1, 1]), Float32Array.from([2, 2, 5, -1, 0, 1]), 2);
    acc.add(1, Float32Array.from([1, 1, 1]), Float32Array.from([-4, 0, 2]), 1);
    expect(Array.from(acc.scores({ normalize: 'sum' }))).toEqual([5, 4, 1, 4, 0, 2]);
    expect(Array.from(acc.scores())).toEqual([2.5, 2, 0.5, 4, 0, 2]);
    expect(() => acc.add(2, new Float32Array(3), new Float32Array(3), 1)).toThrow(/cluster must be an integer in \[0, 2\)/);
    expect(() => new ImportanceAccumulator(3, 2).scores()).toThrow(/data cluster 0 received no tokens/);
  });
});

describe('gradient (disjoint greedy)', () => {
  it('returns a disjoint cover with the requested sizes and is deterministic', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.integer(), (F, k0, seed) => {
        const E = Math.min(k0, F);
        const sizes = randomSizes(F, E, seed);
        const imp = randomImportance(E, F, seed);
        const p = gradientPartition(imp, F, sizes, { layer: 1 });
        validatePartition(p, F, { allowOverlap: false, requireCover: true });
        expect(p.sizes).toEqual(sizes);
        expect(gradientPartition(imp, F, sizes).experts.map((x) => Array.from(x))).toEqual(p.experts.map((x) => Array.from(x)));
      }),
      { numRuns: 100 },
    );
  });

  it('gives each expert its planted neurons', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 6 }), fc.integer(), (sizes, seed) => {
        const rng = createRng(seed);
        const E = sizes.length;
        const F = sizes.reduce((a, b) => a + b, 0);
        const perm = Array.from({ length: F }, (_, i) => i);
        for (let i = F - 1; i > 0; i--) { const j = rng.int(i + 1); [perm[i], perm[j]] = [perm[j]!, perm[i]!]; }
        const owner = new Int32Array(F);
        let t = 0;
        sizes.forEach((s, j) => { for (let c = 0; c < s; c++) owner[perm[t++]!] = j; });
        // Own neurons score in [1, 2), others in [0, 0.5).
        const imp = new Float32Array(E * F);
        for (let j = 0; j < E; j++) for (let i = 0; i < F; i++) imp[j * F + i] = owner[i] === j ? 1 + rng.uniform() : 0.5 * rng.uniform();
        const p = gradientPartition(imp, F, sizes);
        p.experts.forEach((ids, j) => ids.forEach((i) => expect(owner[i]).toBe(j)));
      }),
      { numRuns: 60 },
    );
  });

  it('requires one data cluster per expert', () => {
    expect(() => gradientPartition(new Float32Array(3 * 8), 8, [4, 4], { layer: 5 })).toThrow(/3 data clusters but there are 2 experts.*\(layer 5\)/);
    expect(() => gradientPartition(Float32Array.from([NaN, 0, 0, 0]), 2, [1, 1])).toThrow(/importance\[0, 0\] is NaN/);
  });
});

describe('sharing-inner', () => {
  it('makes each expert exactly its top-m set, ties by lower index', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 6 }), fc.integer(), (F, E, seed) => {
        const rng = createRng(seed);
        const sizes = Array.from({ length: E }, () => 1 + rng.int(F));
        const imp = randomImportance(E, F, seed);
        const p = sharingInnerPartition(imp, F, sizes);
        validatePartition(p, F, { allowOverlap: true, requireCover: false });
        expect(p.overlap).toBe(true);
        for (let j = 0; j < E; j++) {
          const expected = Array.from({ length: F }, (_, i) => i)
            .sort((a, b) => imp[j * F + b]! - imp[j * F + a]! || a - b)
            .slice(0, sizes[j])
            .sort((a, b) => a - b);
          expect(Array.from(p.experts[j]!)).toEqual(expected);
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe('sharing-inter', () => {
  it('shares the most frequently selected neurons and splits the rest disjointly among routed experts', () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 40 }), fc.integer({ min: 1, max: 5 }), fc.integer(), (F, E0, seed) => {
        const rng = createRng(seed);
        const E = Math.min(E0, F - 1);
        const sharedTotal = 1 + rng.int(F - E);
        const sharedSizes = randomSizes(sharedTotal, Math.min(1 + rng.int(2), sharedTotal), seed ^ 7);
        const sizes = randomSizes(F - sharedTotal, E, seed ^ 9);
        const imp = randomImportance(E, F, seed);
        const p = sharingInterPartition(imp, F, sizes, sharedSizes, { layer: 0 });
        validatePartition(p, F, { allowOverlap: false, requireCover: true });
        expect(p.shared!.map((s) => s.length)).toEqual(sharedSizes);
        // First round: the neurons selected by the most experts' top lists are shared first.
        const count = new Int32Array(F);
        for (let j = 0; j < E; j++) {
          Array.from({ length: F }, (_, i) => i).sort((a, b) => imp[j * F + b]! - imp[j * F + a]! || a - b)
            .slice(0, sizes[j]).forEach((i) => count[i]!++);
        }
        const maxCount = Math.max(...count);
        const top = Array.from({ length: F }, (_, i) => i).filter((i) => count[i] === maxCount);
        const sharedSet = new Set(p.shared!.flatMap((s) => Array.from(s)));
        const expectFirst = top.slice(0, sharedTotal);
        for (const i of expectFirst) expect(sharedSet.has(i)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('picks planted common neurons as shared experts', () => {
    // Neurons 0..3 are important for every cluster; the rest belong to one cluster each.
    const F = 16, E = 3;
    const imp = new Float64Array(E * F);
    for (let j = 0; j < E; j++) for (let i = 0; i < F; i++) imp[j * F + i] = i < 4 ? 10 : (i - 4) % E === j ? 5 : 0;
    const p = sharingInterPartition(imp, F, [4, 4, 4], [2, 2]);
    expect(p.shared!.map((s) => Array.from(s))).toEqual([[0, 1], [2, 3]]);
    p.experts.forEach((ids, j) => ids.forEach((i) => expect((i - 4) % E).toBe(j)));
    expect(() => sharingInterPartition(imp, F, [4, 4, 5], [2, 2])).toThrow(/routed sizes sum to 13 and shared sizes to 4/);
  });
});
