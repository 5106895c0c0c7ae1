/**
 * `random` (LLaMA-MoE "Independent_Random"): a seeded Fisher–Yates shuffle of [0, F) per layer,
 * cut into consecutive chunks of the expert sizes, each chunk sorted ascending like the reference.
 */
import { layerRng, iota, shuffleInPlace } from './seed.js';
import type { NeuronPartition } from './types.js';

export interface RandomPartitionOptions {
  seed?: number;
  /** Mixed into the seed so each layer gets its own permutation. */
  layer?: number;
}

/** `sizes` must already be resolved (Σ sizes === F); see `resolveSizes`. */
export function randomPartition(F: number, sizes: readonly number[], opts: RandomPartitionOptions = {}): NeuronPartition {
  const perm = shuffleInPlace(iota(F), layerRng(opts.seed ?? 0, opts.layer ?? 0, 0x52414e44));
  const experts: Int32Array[] = [];
  let off = 0;
  for (const s of sizes) {
    experts.push(perm.slice(off, off + s).sort());
    off += s;
  }
  return { method: 'random', sizes: [...sizes], experts, overlap: false };
}

/**
 * `upcycle` (Sparse Upcycling, Komatsuzaki et al. 2023; not in LLaMA-MoE): every expert is a full
 * copy of the FFN. The converter may perturb the copied weights; the partition itself is fixed.
 */
export function upcyclePartition(F: number, E: number): NeuronPartition {
  const all = iota(F);
  return { method: 'upcycle', sizes: new Array<number>(E).fill(F), experts: Array.from({ length: E }, () => all.slice()), overlap: true };
}
