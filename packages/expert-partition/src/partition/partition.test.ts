import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRng } from '@llama-moe/tensor-core';
import { CoActivationAccumulator } from './coactivation.js';
import { ImportanceAccumulator } from './importance.js';
import { partitionLayer } from './partition-layer.js';
import { randomPartition, upcyclePartition } from './random.js';
import { resolveSizes } from './sizes.js';
import type { NeuronPartition, PartitionMethod } from './types.js';
import { validatePartition } from './validate.js';

const arrs = (p: NeuronPartition) => p.experts.map((x) => Array.from(x));

function randomSizes(n: number, k: number, seed: number): number[] {
  const rng = createRng(seed);
  const s = new Array<number>(k).fill(1);
  for (let r = k; r < n; r++) s[rng.int(k)]!++;
  return s;
}

describe('resolveSizes', () => {
  it('splits equally, accepts explicit sizes and names F and E when it cannot', () => {
    expect(resolveSizes(11008, 8)).toEqual(new Array(8).fill(1376));
    expect(resolveSizes(10, 3, [2, 3, 5])).toEqual([2, 3, 5]);
    expect(() => resolveSizes(11008, 3)).toThrow('intermediate_size 11008 is not divisible by 3 experts; pass size_experts explicitly');
    expect(() => resolveSizes(10, 3, [2, 3, 4], { layer: 7 })).toThrow(/sums to 9 but intermediate_size is 10.*\(layer 7\)/);
    expect(() => resolveSizes(10, 2, [0, 10])).toThrow(/size_experts\[0\] must be an integer ≥ 1/);
    expect(() => resolveSizes(10, 2, [5, 5, 0])).toThrow(/3 entries but num_experts is 2/);
    expect(resolveSizes(10, 2, [7, 9], { requireSum: false })).toEqual([7, 9]);
    expect(() => resolveSizes(10, 2, [7, 11], { requireSum: false })).toThrow(/exceeds intermediate_size 10/);
  });
});

describe('random', () => {
  it('is a seeded disjoint cover with sorted experts of the given sizes, per layer', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 200 }), fc.integer(), fc.nat(40), (F, k0, seed, layer) => {
        const E = Math.min(k0, F);
        const sizes = randomSizes(F, E, seed);
        const p = randomPartition(F, sizes, { seed, layer });
        validatePartition(p, F, { allowOverlap: false, requireCover: true });
        expect(arrs(randomPartition(F, sizes, { seed, layer }))).toEqual(arrs(p));
      }),
      { numRuns: 150 },
    );
    const a = arrs(randomPartition(64, [32, 32], { seed: 1 }));
    expect(arrs(randomPartition(64, [32, 32], { seed: 2 }))).not.toEqual(a);
    expect(arrs(randomPartition(64, [32, 32], { seed: 1, layer: 1 }))).not.toEqual(a);
  });
});

describe('upcycle', () => {
  it('gives every expert all neurons', () => {
    const p = upcyclePartition(5, 3);
    validatePartition(p, 5);
    expect(p.overlap).toBe(true);
    expect(arrs(p)).toEqual([[0, 1, 2, 3, 4], [0, 1, 2, 3, 4], [0, 1, 2, 3, 4]]);
  });
});

describe('validatePartition', () => {
  const good = (): NeuronPartition => ({ method: 'x', sizes: [2, 2], experts: [Int32Array.from([0, 3]), Int32Array.from([1, 2])], overlap: false });
  it('accepts a valid partition and catches each kind of corruption, naming layer and expert', () => {
    expect(validatePartition(good(), 4)).toBeTruthy();
    const p1 = good(); p1.experts[1] = Int32Array.from([1, 4]);
    expect(() => validatePartition(p1, 4, { layer: 3 })).toThrow('validatePartition: expert 1 has neuron id 4 outside [0, 4) (layer 3)');
    const p2 = good(); p2.experts[0] = Int32Array.from([3, 3]);
    expect(() => validatePartition(p2, 4)).toThrow(/expert 0 lists neuron 3 twice/);
    const p3 = good(); p3.experts[0] = Int32Array.from([0, 3, 1]);
    expect(() => validatePartition(p3, 4)).toThrow(/expert 0 has 3 neurons but sizes\[0\] is 2/);
    const p4 = good(); p4.experts[1] = Int32Array.from([0, 2]);
    expect(() => validatePartition(p4, 4)).toThrow(/neuron 0 is in both expert 0 and expert 1/);
    expect(validatePartition(p4, 4, { allowOverlap: true, requireCover: false })).toBeTruthy();
    expect(() => validatePartition(p4, 4, { allowOverlap: true })).toThrow(/1 of 4 neurons belong to no expert \(first: neuron 1\)/);
    const p5 = good(); p5.experts[0] = Int32Array.from([3, 0]);
    expect(() => validatePartition(p5, 4)).toThrow(/not sorted/);
    const p6 = good(); p6.shared = [Int32Array.from([2])];
    expect(() => validatePartition(p6, 4)).toThrow(/neuron 2 is in both expert 1 and shared expert 0/);
    const p7 = good(); p7.experts[0] = [0, 3] as unknown as Int32Array;
    expect(() => validatePartition(p7, 4)).toThrow(/expert 0 must be an Int32Array/);
    expect(() => validatePartition({ ...good(), overlap: true }, 4, { allowOverlap: false })).toThrow(/marked overlapping/);
  });
});

describe('partitionLayer', () => {
  it('every disjoint method returns a cover with the requested sizes, for random shapes including E = 1 and E = F', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 6 }), fc.integer(), fc.constantFrom<PartitionMethod>('random', 'clustering', 'graph', 'gradient'), (F, k0, D, seed, method) => {
        const E = Math.min(k0, F);
        const rng = createRng(seed);
        const sizes = randomSizes(F, E, seed);
        const upProj = Float32Array.from({ length: F * D }, () => rng.normal());
        const co = new CoActivationAccumulator(F);
        co.add(Float32Array.from({ length: 3 * F }, () => rng.normal()), 3);
        const imp = new ImportanceAccumulator(F, E);
        for (let j = 0; j < E; j++) imp.add(j, Float32Array.from({ length: F }, () => rng.normal()), Float32Array.from({ length: F }, () => rng.normal()), 1);
        const opts = { intermediateSize: F, hiddenSize: D, numExperts: E, sizeExperts: sizes, seed, layer: 2 };
        const p = partitionLayer(method, { upProj, coActivation: co, importance: imp }, opts);
        expect(p.method).toBe(method);
        expect(p.sizes).toEqual(sizes);
        validatePartition(p, F, { allowOverlap: false, requireCover: true });
        expect(arrs(partitionLayer(method, { upProj, coActivation: co, importance: imp }, opts))).toEqual(arrs(p));
      }),
      { numRuns: 120 },
    );
  });

  it('dispatches sharing methods and upcycle, and names missing inputs', () => {
    const F = 12, E = 3;
    const imp = Float64Array.from({ length: E * F }, (_, t) => (t * 7) % 11);
    const inner = partitionLayer('sharing-inner', { importance: imp }, { intermediateSize: F, numExperts: E });
    expect(inner.overlap).toBe(true);
    expect(inner.sizes).toEqual([4, 4, 4]);
    const inter = partitionLayer('sharing-inter', { importance: imp }, { intermediateSize: F, numExperts: E, sharedSizes: [3] });
    expect(inter.sizes).toEqual([3, 3, 3]);
    expect(inter.shared![0]!.length).toBe(3);
    expect(partitionLayer('upcycle', {}, { intermediateSize: F, numExperts: 2 }).experts[1]!.length).toBe(F);
    expect(() => partitionLayer('graph', {}, { intermediateSize: F, numExperts: E, layer: 4 })).toThrow("method 'graph' needs calibration data (--data)");
    expect(() => partitionLayer('clustering', {}, { intermediateSize: F, numExperts: E })).toThrow(/method 'clustering' needs the layer's mlp.up_proj.weight/);
    expect(() => partitionLayer('gradient', {}, { intermediateSize: F, numExperts: E })).toThrow(/method 'gradient' needs neuron importance/);
    expect(() => partitionLayer('sharing-inter', { importance: imp }, { intermediateSize: F, numExperts: E })).toThrow(/needs sharedSizes/);
    expect(() => partitionLayer('graph', { coActivation: new CoActivationAccumulator(F) }, { intermediateSize: F, numExperts: E })).toThrow(/without tokens/);
    expect(() => partitionLayer('random', {}, { intermediateSize: 11008, numExperts: 3 })).toThrow('intermediate_size 11008 is not divisible by 3 experts; pass size_experts explicitly');
    expect(() => partitionLayer('nope' as PartitionMethod, {}, { intermediateSize: F, numExperts: E })).toThrow(/unknown method 'nope'/);
  });
});
