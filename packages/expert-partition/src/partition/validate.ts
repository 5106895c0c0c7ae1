/**
 * Structural check of a NeuronPartition before weights are sliced with it: a bad id here would
 * otherwise surface as a silently wrong expert or an out-of-bounds read deep in the converter.
 */
import { PartitionError, atLayer } from './errors.js';
import type { NeuronPartition } from './types.js';

export interface ValidateOptions {
  /** Allow one neuron in several experts (default: `p.overlap`). */
  allowOverlap?: boolean;
  /** Require every neuron in [0, F) to belong to some routed or shared expert (default: `!p.overlap`). */
  requireCover?: boolean;
  /** Named in error messages. */
  layer?: number;
}

/** Throws a PartitionError naming the layer and expert on the first problem found; returns `p` otherwise. */
export function validatePartition(p: NeuronPartition, F: number, opts: ValidateOptions = {}): NeuronPartition {
  const { layer } = opts;
  const allowOverlap = opts.allowOverlap ?? p.overlap;
  const requireCover = opts.requireCover ?? !p.overlap;
  const op = 'validatePartition';
  const L = atLayer(layer);
  if (!Number.isInteger(F) || F < 1) throw new PartitionError(op, `intermediate_size must be a positive integer, got ${F}${L}`, { layer });
  if (!Array.isArray(p.experts) || !Array.isArray(p.sizes)) throw new PartitionError(op, `partition must have 'experts' and 'sizes' arrays${L}`, { layer });
  if (p.experts.length === 0) throw new PartitionError(op, `partition of method '${p.method}' has no experts${L}`, { layer });
  if (p.experts.length !== p.sizes.length) {
    throw new PartitionError(op, `partition has ${p.experts.length} experts but ${p.sizes.length} sizes${L}`, { layer });
  }
  if (!allowOverlap && p.overlap) {
    throw new PartitionError(op, `partition of method '${p.method}' is marked overlapping but disjoint experts are required${L}`, { layer });
  }
  /** [F] first owner of each neuron: routed expert j → j, shared expert s → -2 - s, none → -1 */
  const owner = new Int32Array(F).fill(-1);
  /** [F] last expert (encoded like `owner`, offset by 1) that listed the neuron, to catch duplicates within an expert */
  const seenIn = new Int32Array(F).fill(0);
  const groups: { list: Int32Array[]; shared: boolean }[] = [{ list: p.experts, shared: false }];
  if (p.shared !== undefined) groups.push({ list: p.shared, shared: true });
  let stamp = 0;
  const name = (shared: boolean, j: number) => (shared ? `shared expert ${j}` : `expert ${j}`);
  for (const { list, shared } of groups) {
    for (let j = 0; j < list.length; j++) {
      const ids = list[j];
      const where = { layer, expert: j };
      if (!(ids instanceof Int32Array)) throw new PartitionError(op, `${name(shared, j)} must be an Int32Array of neuron ids${L}`, where);
      if (!shared && ids.length !== p.sizes[j]) {
        throw new PartitionError(op, `expert ${j} has ${ids.length} neurons but sizes[${j}] is ${p.sizes[j]}${L}`, where);
      }
      if (ids.length === 0) throw new PartitionError(op, `${name(shared, j)} is empty${L}`, where);
      stamp++;
      const code = shared ? -2 - j : j;
      for (let t = 0; t < ids.length; t++) {
        const v = ids[t]!;
        if (v < 0 || v >= F) throw new PartitionError(op, `${name(shared, j)} has neuron id ${v} outside [0, ${F})${L}`, where);
        if (seenIn[v] === stamp) throw new PartitionError(op, `${name(shared, j)} lists neuron ${v} twice${L}`, where);
        seenIn[v] = stamp;
        if (t > 0 && ids[t - 1]! > v) throw new PartitionError(op, `${name(shared, j)} neuron ids are not sorted ascending (${ids[t - 1]} before ${v})${L}`, where);
        const prev = owner[v]!;
        if (prev !== -1 && !allowOverlap) {
          const other = prev >= 0 ? `expert ${prev}` : `shared expert ${-2 - prev}`;
          throw new PartitionError(op, `neuron ${v} is in both ${other} and ${name(shared, j)} but experts must be disjoint${L}`, where);
        }
        if (prev === -1) owner[v] = code;
      }
    }
  }
  if (requireCover) {
    let missing = 0;
    let first = -1;
    for (let v = 0; v < F; v++) {
      if (owner[v] === -1) {
        if (first < 0) first = v;
        missing++;
      }
    }
    if (missing > 0) {
      throw new PartitionError(op, `${missing} of ${F} neurons belong to no expert (first: neuron ${first}); the experts must cover [0, ${F})${L}`, { layer });
    }
  }
  return p;
}

/** Build sorted Int32Array expert lists from a label per neuron ([F] values in [0, E)). */
export function expertsFromLabels(labels: Int32Array, sizes: readonly number[]): Int32Array[] {
  const E = sizes.length;
  const experts = sizes.map((s) => new Int32Array(s));
  const fill = new Int32Array(E);
  // Ascending neuron order makes every list sorted without a sort.
  for (let v = 0; v < labels.length; v++) {
    const j = labels[v]!;
    experts[j]![fill[j]!++] = v;
  }
  for (let j = 0; j < E; j++) {
    if (fill[j] !== sizes[j]) throw new PartitionError('expertsFromLabels', `expert ${j} received ${fill[j]} neurons but its size is ${sizes[j]}`, { expert: j });
  }
  return experts;
}
