/**
 * Gradient-importance constructions (LLaMA-MoE expert_split.GradientSplit and
 * expert_split_residual.GradientSplitResidual), from importance [E, F]: row j = importance of
 * every neuron for data cluster j (ImportanceAccumulator). Data cluster j seeds expert j, so the
 * number of clusters must equal the number of routed experts; a mismatch is an error (cluster the
 * calibration data into num_experts clusters), never a silent truncation or repetition.
 *
 *  - `gradient` (disjoint): global greedy by score, as the reference's loop: among all experts with
 *    room, the (expert, neuron) pair of highest importance whose neuron is still free is assigned,
 *    until every expert is full. Equivalent to scanning all E·F pairs by descending score
 *    (ties: lower neuron, then lower expert) and assigning when both are available.
 *  - `sharing-inner`: expert j = its top-sizes[j] neurons (ties: lower index); experts overlap.
 *  - `sharing-inter`: always-on shared neurons = the neurons most often in the experts' top lists,
 *    chosen iteratively like the reference: each round every expert lists its top-sizes[j] neurons
 *    among those not yet shared, the neurons of the highest selection count (ascending id, up to the
 *    remaining shared capacity) become shared, repeat until Σ sharedSizes neurons are shared. They
 *    are split in selection order into the shared experts; the routed experts then split the other
 *    neurons with the disjoint greedy above (Σ sizes = F − Σ sharedSizes).
 */
import { PartitionError, atLayer, checkFloatBuffer, checkPositiveInt, type FloatArray } from './errors.js';
import { resolveSizes } from './sizes.js';
import type { NeuronPartition } from './types.js';

export interface GradientPartitionOptions {
  layer?: number;
}

function checkImportance(op: string, importance: unknown, E: number, F: number, layer?: number): asserts importance is FloatArray {
  if (!(importance instanceof Float32Array || importance instanceof Float64Array)) {
    throw new PartitionError(op, `importance must be a Float32Array or Float64Array [${E}, ${F}]${atLayer(layer)}`, { layer });
  }
  if (importance.length % F !== 0) throw new PartitionError(op, `importance has ${importance.length} values, not a multiple of intermediate_size ${F}${atLayer(layer)}`, { layer });
  const C = importance.length / F;
  if (C !== E) {
    throw new PartitionError(op, `importance has ${C} data clusters but there are ${E} experts; gradient methods need one data cluster per expert (cluster the calibration data into num_experts clusters)${atLayer(layer)}`, { layer });
  }
  checkFloatBuffer(op, 'importance', importance, E * F, `[${E}, ${F}]`, layer);
  for (let t = 0; t < importance.length; t++) {
    if (!Number.isFinite(importance[t]!)) throw new PartitionError(op, `importance[${Math.floor(t / F)}, ${t % F}] is ${importance[t]}${atLayer(layer)}`, { layer, expert: Math.floor(t / F) });
  }
}

/** Neuron ids 0..F-1 of row j sorted by descending importance, ties by ascending id. */
function rankRow(importance: FloatArray, j: number, F: number): Int32Array {
  const row = importance.subarray(j * F, j * F + F);
  const idx = new Int32Array(F);
  for (let i = 0; i < F; i++) idx[i] = i;
  return idx.sort((a, b) => row[b]! - row[a]! || a - b);
}

/**
 * Disjoint greedy split by score (see file comment). `excluded` [F] marks neurons no expert may take.
 * Returns sorted experts.
 */
function greedyDisjoint(importance: FloatArray, F: number, sizes: readonly number[], excluded: Uint8Array | null): Int32Array[] {
  const E = sizes.length;
  /** [E·F] pair ids e·F + i sorted by descending score, ties by neuron then expert */
  const pairs = new Uint32Array(E * F);
  for (let p = 0; p < pairs.length; p++) pairs[p] = p;
  pairs.sort((a, b) => importance[b]! - importance[a]! || (a % F) - (b % F) || a - b);
  const taken = excluded ? Uint8Array.from(excluded) : new Uint8Array(F);
  const fill = new Int32Array(E);
  const experts = sizes.map((s) => new Int32Array(s));
  let left = sizes.reduce((a, b) => a + b, 0);
  for (let t = 0; t < pairs.length && left > 0; t++) {
    const p = pairs[t]!;
    const j = (p / F) | 0;
    const i = p - j * F;
    if (taken[i] || fill[j] === sizes[j]) continue;
    taken[i] = 1;
    experts[j]![fill[j]!++] = i;
    left--;
  }
  for (const ids of experts) ids.sort();
  return experts;
}

/** `gradient`: disjoint cover, Σ sizes = F. */
export function gradientPartition(importance: FloatArray, F: number, sizes: readonly number[], opts: GradientPartitionOptions = {}): NeuronPartition {
  const op = 'gradientPartition';
  checkPositiveInt(op, 'intermediate_size', F, opts.layer);
  resolveSizes(F, sizes.length, sizes, { layer: opts.layer });
  checkImportance(op, importance, sizes.length, F, opts.layer);
  return { method: 'gradient', sizes: [...sizes], experts: greedyDisjoint(importance, F, sizes, null), overlap: false };
}

/** `sharing-inner`: expert j = top-sizes[j] neurons of row j; each size ≤ F, no sum constraint. */
export function sharingInnerPartition(importance: FloatArray, F: number, sizes: readonly number[], opts: GradientPartitionOptions = {}): NeuronPartition {
  const op = 'sharingInnerPartition';
  checkPositiveInt(op, 'intermediate_size', F, opts.layer);
  resolveSizes(F, sizes.length, sizes, { layer: opts.layer, requireSum: false });
  checkImportance(op, importance, sizes.length, F, opts.layer);
  const experts = sizes.map((s, j) => rankRow(importance, j, F).slice(0, s).sort());
  return { method: 'sharing-inner', sizes: [...sizes], experts, overlap: true };
}

/**
 * `sharing-inter`: routed `sizes` (Σ = F − Σ sharedSizes) plus always-on shared experts of
 * `sharedSizes` (see file comment).
 */
export function sharingInterPartition(importance: FloatArray, F: number, sizes: readonly number[], sharedSizes: readonly number[], opts: GradientPartitionOptions = {}): NeuronPartition {
  const op = 'sharingInterPartition';
  const { layer } = opts;
  const L = atLayer(layer);
  checkPositiveInt(op, 'intermediate_size', F, layer);
  if (!Array.isArray(sharedSizes) || sharedSizes.length === 0) throw new PartitionError(op, `sharedSizes must list at least one shared expert size${L}`, { layer });
  let sharedTotal = 0;
  for (const s of sharedSizes) {
    if (!Number.isInteger(s) || s < 1) throw new PartitionError(op, `every shared expert size must be an integer ≥ 1, got ${s}${L}`, { layer });
    sharedTotal += s;
  }
  if (sharedTotal >= F) throw new PartitionError(op, `shared experts take ${sharedTotal} of ${F} neurons, leaving none for the routed experts${L}`, { layer });
  const routedTotal = sizes.reduce((a, b) => a + b, 0);
  if (routedTotal + sharedTotal !== F) {
    throw new PartitionError(op, `routed sizes sum to ${routedTotal} and shared sizes to ${sharedTotal}, but together they must equal intermediate_size ${F}${L}`, { layer });
  }
  resolveSizes(F - sharedTotal, sizes.length, sizes, { layer });
  const E = sizes.length;
  checkImportance(op, importance, E, F, layer);

  const ranked = sizes.map((_, j) => rankRow(importance, j, F));
  const shared = new Uint8Array(F);
  /** shared neuron ids in selection order */
  const order = new Int32Array(sharedTotal);
  let nShared = 0;
  const count = new Int32Array(F);
  while (nShared < sharedTotal) {
    count.fill(0);
    for (let j = 0; j < E; j++) {
      // Top-sizes[j] of expert j among neurons not yet shared.
      const r = ranked[j]!;
      let got = 0;
      for (let t = 0; t < F && got < sizes[j]!; t++) {
        const i = r[t]!;
        if (shared[i]) continue;
        count[i]!++;
        got++;
      }
    }
    let maxCount = 0;
    for (let i = 0; i < F; i++) if (count[i]! > maxCount) maxCount = count[i]!;
    if (maxCount === 0) break; // unreachable: routed sizes are ≥ 1 and free neurons remain
    for (let i = 0; i < F && nShared < sharedTotal; i++) {
      if (count[i] === maxCount) {
        shared[i] = 1;
        order[nShared++] = i;
      }
    }
  }
  const sharedExperts: Int32Array[] = [];
  let off = 0;
  for (const s of sharedSizes) {
    sharedExperts.push(order.slice(off, off + s).sort());
    off += s;
  }
  return { method: 'sharing-inter', sizes: [...sizes], experts: greedyDisjoint(importance, F, sizes, shared), shared: sharedExperts, overlap: false };
}
