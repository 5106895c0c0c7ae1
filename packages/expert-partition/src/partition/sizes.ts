/**
 * Expert sizes. LLaMA-MoE stores them per layer as `size_experts[layer][expert]`; `null` there
 * means an equal split F / E, which must divide exactly (the reference asserts it).
 */
import { PartitionError, atLayer, checkPositiveInt } from './errors.js';

export interface ResolveSizesOptions {
  /**
   * Require Σ sizes === F (default true: every disjoint partition method covers all neurons).
   * Set false for sharing-inner, whose experts may overlap: then each size only has to be ≤ F.
   */
  requireSum?: boolean;
  layer?: number;
}

/** Per-expert sizes: an equal split of F into E experts, or `sizeExperts` checked against F and E. */
export function resolveSizes(F: number, E: number, sizeExperts?: readonly number[] | null, opts: ResolveSizesOptions = {}): number[] {
  const { requireSum = true, layer } = opts;
  checkPositiveInt('resolveSizes', 'intermediate_size', F, layer);
  checkPositiveInt('resolveSizes', 'num_experts', E, layer);
  if (sizeExperts === undefined || sizeExperts === null) {
    if (F % E !== 0) {
      throw new PartitionError('resolveSizes', `intermediate_size ${F} is not divisible by ${E} experts; pass size_experts explicitly${atLayer(layer)}`, { layer });
    }
    return new Array<number>(E).fill(F / E);
  }
  if (!Array.isArray(sizeExperts) && !ArrayBuffer.isView(sizeExperts)) {
    throw new PartitionError('resolveSizes', `size_experts must be an array of ${E} integers${atLayer(layer)}`, { layer });
  }
  if (sizeExperts.length !== E) {
    throw new PartitionError('resolveSizes', `size_experts has ${sizeExperts.length} entries but num_experts is ${E}${atLayer(layer)}`, { layer });
  }
  let sum = 0;
  const sizes: number[] = [];
  for (let j = 0; j < E; j++) {
    const s = sizeExperts[j];
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 1) {
      throw new PartitionError('resolveSizes', `size_experts[${j}] must be an integer ≥ 1, got ${String(s)}${atLayer(layer)}`, { layer, expert: j });
    }
    if (s > F) {
      throw new PartitionError('resolveSizes', `size_experts[${j}] = ${s} exceeds intermediate_size ${F}${atLayer(layer)}`, { layer, expert: j });
    }
    sum += s;
    sizes.push(s);
  }
  if (requireSum && sum !== F) {
    throw new PartitionError('resolveSizes', `size_experts sums to ${sum} but intermediate_size is ${F}; the experts must cover every neuron exactly once${atLayer(layer)}`, { layer });
  }
  return sizes;
}
