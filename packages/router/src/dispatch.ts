/**
 * Dispatch / combine: turns per-token routing decisions into a plan in which each expert's tokens
 * sit in ONE contiguous block of gathered rows, so an expert runs as a single GEMM over
 * `[count_e, D]`, and then scatters the expert outputs back with their gate weights.
 *
 * Layout of a plan (S slots in all):
 *   slots [offsets[e], offsets[e+1]) belong to expert e; routed experts 0..E−1 come first, then
 *   the always-on shared experts E..E+Es−1, each of which sees every token once.
 *   Within an expert, slots are in increasing token order (a stable counting sort), which is also
 *   the first-come-first-served order used when a capacity drops tokens.
 * Every pass is linear over typed arrays; nothing is allocated per token.
 */
import { RouterError, allocLike, checkDim, checkFloat, isFloatArray, type FloatArray } from './errors.js';

/** LLaMA-MoE `dropped_padding`: what a token whose every routed expert dropped it receives. */
export type DroppedPadding = 'zero' | 'input';

export interface DispatchOptions {
  /**
   * Most tokens any routed expert may take (tokens beyond it are dropped, earliest token first
   * served). Omit for no limit. See `expertCapacity` for the Switch formula.
   */
  capacity?: number;
  /** Always-on shared experts (DeepSeekMoE `n_shared_experts`; LLaMA-MoE's residual variant). Default 0. */
  n_shared_experts?: number;
  /**
   * Weight of each shared expert's output: a number for all (default 1), a buffer [Es] per shared
   * expert, or a buffer [T, Es] per token (e.g. Qwen2-MoE's sigmoid shared_expert_gate).
   */
  shared_expert_weights?: number | FloatArray;
  /** What fully dropped tokens receive from `moeForward` / `applyDroppedPadding`. Default 'zero'. */
  dropped_padding?: DroppedPadding;
}

export interface DispatchPlan<A extends FloatArray = Float32Array> {
  /** 'topk': built from [T, k] selections; 'expert-choice': from [E, C] expert selections. */
  source: 'topk' | 'expert-choice';
  numTokens: number;
  /** k for a 'topk' plan; 0 for 'expert-choice'. */
  topK: number;
  /** Routed experts E. */
  numExperts: number;
  /** Shared experts Es; their ids are E..E+Es−1. */
  numSharedExperts: number;
  /** Total slots S = Σ counts. */
  numSlots: number;
  /** Slots before the shared experts' blocks, = offsets[E]. */
  routedSlots: number;
  /** Int32Array [E + Es]: rows each expert processes (after capacity). */
  counts: Int32Array;
  /** Int32Array [E + Es + 1]: prefix sums of counts; expert e owns slots [offsets[e], offsets[e+1]). */
  offsets: Int32Array;
  /** Int32Array [S]: token index of each slot. */
  permutation: Int32Array;
  /** [S]: gate score of a routed slot, weight of a shared slot. */
  slotWeights: A;
  /** Int32Array [S]: index into the source score buffer ([T, k] or [E, C]) of each routed slot; −1 for shared slots. */
  slotSelection: Int32Array;
  /** Length of the source score buffer (T·k or E·C), for `scatterSlotGrads`. */
  sourceLength: number;
  /** Int32Array [E]: tokens that asked for each routed expert, before capacity. */
  requested: Int32Array;
  /** Capacity applied per routed expert (Infinity when none). */
  capacity: number;
  /** Uint8Array [T, k]: 1 where a selection was dropped by the capacity (empty for expert-choice). */
  dropped: Uint8Array;
  /** Int32Array [E]: selections each routed expert dropped. */
  droppedPerExpert: Int32Array;
  /** Σ droppedPerExpert. */
  numDropped: number;
  droppedPadding: DroppedPadding;
  /** [T, k] the routing the plan was built from (the caller's buffers, not copied); null for expert-choice. */
  topkIndices: Int32Array | null;
  topkScores: A | null;
}

/**
 * Switch Transformer / LLaMA-MoE SwitchDropTokenCalculator capacity:
 * `max(1, floor(capacity_factor · T / E))` (the reference's `int(capacity_factor * batch_size / num_experts)`,
 * floored; the minimum of 1 keeps tiny batches from dropping every token).
 */
export function expertCapacity(capacity_factor: number, numTokens: number, numExperts: number): number {
  if (!(capacity_factor > 0) || !Number.isFinite(capacity_factor)) {
    throw new RouterError('argument', 'expertCapacity.capacity_factor', `must be a finite number > 0, got ${capacity_factor}`);
  }
  checkDim('expertCapacity', 'numTokens', numTokens, 0);
  checkDim('expertCapacity', 'numExperts', numExperts);
  return Math.max(1, Math.floor((capacity_factor * numTokens) / numExperts));
}

function checkSharedOptions(op: string, T: number, options: DispatchOptions | undefined): { Es: number; weights: number | FloatArray; perToken: boolean } {
  const Es = options?.n_shared_experts ?? 0;
  checkDim(op, 'n_shared_experts', Es, 0);
  const weights = options?.shared_expert_weights ?? 1;
  let perToken = false;
  if (typeof weights === 'number') {
    if (!Number.isFinite(weights)) throw new RouterError('argument', op, `shared_expert_weights must be finite, got ${weights}`);
  } else if (isFloatArray(weights)) {
    if (weights.length === T * Es && T !== 1) perToken = true;
    else if (weights.length !== Es) {
      throw new RouterError('shape', op, `shared_expert_weights has ${weights.length} elements; pass [Es=${Es}] or [T=${T}, Es=${Es}]`);
    }
  } else {
    throw new RouterError('argument', op, 'shared_expert_weights must be a number or a Float32Array/Float64Array');
  }
  const pad = options?.dropped_padding ?? 'zero';
  if (pad !== 'zero' && pad !== 'input') throw new RouterError('argument', op, `dropped_padding must be 'zero' or 'input', got ${String(pad)}`);
  return { Es, weights, perToken };
}

/** Fills the shared experts' blocks (every token once, in order) after the routed ones. */
function fillShared(
  plan: { permutation: Int32Array; slotWeights: FloatArray; slotSelection: Int32Array },
  start: number,
  T: number,
  shared: { Es: number; weights: number | FloatArray; perToken: boolean },
): void {
  let slot = start;
  for (let s = 0; s < shared.Es; s++) {
    const w = shared.weights;
    for (let t = 0; t < T; t++, slot++) {
      plan.permutation[slot] = t;
      plan.slotSelection[slot] = -1;
      plan.slotWeights[slot] = typeof w === 'number' ? w : shared.perToken ? w[t * shared.Es + s]! : w[s]!;
    }
  }
}

/**
 * Builds a dispatch plan from top-k routing. `topkIndices` / `topkScores` are `[T, k]` as every gate
 * returns them. With `capacity`, each routed expert keeps its first `capacity` tokens in token
 * order and drops the rest (recorded in `dropped`).
 */
export function buildDispatch<A extends FloatArray>(
  /** [T, k] */ topkIndices: Int32Array,
  /** [T, k] */ topkScores: A,
  numExperts: number,
  k: number,
  options?: DispatchOptions,
): DispatchPlan<A> {
  const op = 'buildDispatch';
  const E = numExperts;
  checkDim(op, 'numExperts', E);
  checkDim(op, 'k', k);
  if (!(topkIndices instanceof Int32Array)) throw new RouterError('argument', op, 'topkIndices must be an Int32Array [T, k]');
  if (topkIndices.length % k !== 0) throw new RouterError('shape', op, `topkIndices has ${topkIndices.length} elements, not a multiple of k=${k}`);
  const T = topkIndices.length / k;
  checkFloat(op, 'topkScores', topkScores, T * k, `[T=${T}, k=${k}]`);
  const capacity = options?.capacity ?? Infinity;
  if (capacity !== Infinity && (!Number.isInteger(capacity) || capacity < 0)) {
    throw new RouterError('argument', op, `capacity must be an integer >= 0 or omitted, got ${capacity}`);
  }
  const shared = checkSharedOptions(op, T, options);
  const Es = shared.Es;

  /** [E] */ const requested = new Int32Array(E);
  for (let i = 0; i < T * k; i++) {
    const e = topkIndices[i]!;
    if (e < 0 || e >= E) throw new RouterError('index', op, `topkIndices[${Math.floor(i / k)}, ${i % k}] = ${e} is outside [0, ${E})`);
    requested[e]!++;
  }
  /** [E + Es] */ const counts = new Int32Array(E + Es);
  /** [E + Es + 1] */ const offsets = new Int32Array(E + Es + 1);
  /** [E] */ const droppedPerExpert = new Int32Array(E);
  let numDropped = 0;
  for (let e = 0; e < E; e++) {
    const kept = Math.min(requested[e]!, capacity);
    counts[e] = kept;
    droppedPerExpert[e] = requested[e]! - kept;
    numDropped += droppedPerExpert[e]!;
    offsets[e + 1] = offsets[e]! + kept;
  }
  for (let s = 0; s < Es; s++) {
    counts[E + s] = T;
    offsets[E + s + 1] = offsets[E + s]! + T;
  }
  const S = offsets[E + Es]!;
  /** [S] */ const permutation = new Int32Array(S);
  /** [S] */ const slotWeights = allocLike(topkScores, S);
  /** [S] */ const slotSelection = new Int32Array(S);
  /** [T, k] */ const dropped = new Uint8Array(T * k);
  // Next free slot of each routed expert: reuse the offsets as cursors.
  /** [E] */ const cursor = offsets.slice(0, E);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < k; j++) {
      const i = t * k + j;
      const e = topkIndices[i]!;
      const slot = cursor[e]!;
      if (slot >= offsets[e + 1]!) {
        dropped[i] = 1;
        continue;
      }
      cursor[e] = slot + 1;
      permutation[slot] = t;
      slotWeights[slot] = topkScores[i]!;
      slotSelection[slot] = i;
    }
  }
  const plan: DispatchPlan<A> = {
    source: 'topk',
    numTokens: T,
    topK: k,
    numExperts: E,
    numSharedExperts: Es,
    numSlots: S,
    routedSlots: offsets[E]!,
    counts,
    offsets,
    permutation,
    slotWeights,
    slotSelection,
    sourceLength: T * k,
    requested,
    capacity,
    dropped,
    droppedPerExpert,
    numDropped,
    droppedPadding: options?.dropped_padding ?? 'zero',
    topkIndices,
    topkScores,
  };
  fillShared(plan, offsets[E]!, T, shared);
  return plan;
}

/**
 * Builds a plan from expert-choice routing: `tokenIndices` / `weights` are `[E, C]`, expert e's
 * C chosen tokens (each row in increasing token order). Used by `expertChoiceGate`.
 */
export function buildExpertChoiceDispatch<A extends FloatArray>(
  /** [E, C] */ tokenIndices: Int32Array,
  /** [E, C] */ weights: A,
  numTokens: number,
  numExperts: number,
  options?: Omit<DispatchOptions, 'capacity'>,
): DispatchPlan<A> {
  const op = 'buildExpertChoiceDispatch';
  const E = numExperts;
  const T = numTokens;
  checkDim(op, 'numExperts', E);
  checkDim(op, 'numTokens', T, 0);
  if (!(tokenIndices instanceof Int32Array) || tokenIndices.length % E !== 0) {
    throw new RouterError('shape', op, `tokenIndices must be an Int32Array [E=${E}, C]`);
  }
  const C = tokenIndices.length / E;
  checkFloat(op, 'weights', weights, E * C, `[E=${E}, C=${C}]`);
  const shared = checkSharedOptions(op, T, options);
  const Es = shared.Es;
  const counts = new Int32Array(E + Es);
  const offsets = new Int32Array(E + Es + 1);
  for (let e = 0; e < E + Es; e++) {
    counts[e] = e < E ? C : T;
    offsets[e + 1] = offsets[e]! + counts[e]!;
  }
  const S = offsets[E + Es]!;
  const permutation = new Int32Array(S);
  const slotWeights = allocLike(weights, S);
  const slotSelection = new Int32Array(S);
  for (let i = 0; i < E * C; i++) {
    const t = tokenIndices[i]!;
    if (t < 0 || t >= T) throw new RouterError('index', op, `tokenIndices[${Math.floor(i / C)}, ${i % C}] = ${t} is outside [0, ${T})`);
    permutation[i] = t;
    slotWeights[i] = weights[i]!;
    slotSelection[i] = i;
  }
  const requested = new Int32Array(E).fill(C);
  const plan: DispatchPlan<A> = {
    source: 'expert-choice',
    numTokens: T,
    topK: 0,
    numExperts: E,
    numSharedExperts: Es,
    numSlots: S,
    routedSlots: E * C,
    counts,
    offsets,
    permutation,
    slotWeights,
    slotSelection,
    sourceLength: E * C,
    requested,
    capacity: C,
    dropped: new Uint8Array(0),
    droppedPerExpert: new Int32Array(E),
    numDropped: 0,
    droppedPadding: options?.dropped_padding ?? 'zero',
    topkIndices: null,
    topkScores: null,
  };
  fillShared(plan, E * C, T, shared);
  return plan;
}

/** Rows [S, D] gathered from x [T, D] in slot order: rows[s] = x[permutation[s]]. */
export function gatherRows<A extends FloatArray>(
  /** [T, D] */ x: A,
  /** [S] */ permutation: Int32Array,
  D: number,
  /** [S, D], optional destination */ out?: A,
): A {
  const op = 'gatherRows';
  checkDim(op, 'D', D);
  if (!(x.length % D === 0)) throw new RouterError('shape', op, `x has ${x.length} elements, not a multiple of D=${D}; pass a row-major [T, D] buffer`);
  const T = x.length / D;
  const S = permutation.length;
  const rows = out ?? allocLike(x, S * D);
  if (rows.length !== S * D) throw new RouterError('shape', op, `out has ${rows.length} elements, expected [S=${S}, D=${D}]`);
  for (let s = 0; s < S; s++) {
    const t = permutation[s]!;
    if (t < 0 || t >= T) throw new RouterError('index', op, `permutation[${s}] = ${t} is outside [0, ${T})`);
    const src = t * D;
    const dst = s * D;
    for (let d = 0; d < D; d++) rows[dst + d] = x[src + d]!;
  }
  return rows;
}

/** Backward of gatherRows: dX[t] += Σ_{s: perm[s]=t} dRows[s]. Accumulates into `dX` when given. */
export function gatherRowsBackward<A extends FloatArray>(
  /** [S, D] */ dRows: A,
  /** [S] */ permutation: Int32Array,
  numTokens: number,
  D: number,
  /** [T, D] */ dX?: A,
): A {
  const op = 'gatherRowsBackward';
  checkDim(op, 'D', D);
  const S = permutation.length;
  checkFloat(op, 'dRows', dRows, S * D, `[S=${S}, D=${D}]`);
  const out = dX ?? allocLike(dRows, numTokens * D);
  if (out.length !== numTokens * D) throw new RouterError('shape', op, `dX has ${out.length} elements, expected [T=${numTokens}, D=${D}]`);
  for (let s = 0; s < S; s++) {
    const t = permutation[s]!;
    if (t < 0 || t >= numTokens) throw new RouterError('index', op, `permutation[${s}] = ${t} is outside [0, ${numTokens})`);
    const src = s * D;
    const dst = t * D;
    for (let d = 0; d < D; d++) out[dst + d]! += dRows[src + d]!;
  }
  return out;
}

export interface CombineOptions {
  /** LLaMA-MoE `multiply_gate_scores`: weight routed outputs by their gate score (default true); false uses score_scale_factor alone. */
  multiply_gate_scores?: boolean;
}

/** Per-slot combine multiplier: score·scale (or scale) for routed slots, the shared weight for shared slots. */
function slotMultiplier(plan: DispatchPlan<FloatArray>, s: number, scale: number, multiply: boolean): number {
  if (s >= plan.routedSlots) return plan.slotWeights[s]!;
  return multiply ? plan.slotWeights[s]! * scale : scale;
}

/**
 * Scatters expert outputs back onto tokens: out[perm[s]] += w_s · expertOut[s], with
 * w_s = score·score_scale_factor for routed slots (LLaMA-MoE UniversalCalculator), or the shared
 * weight for shared experts. `out [T, D]` is accumulated into (zero it first for a fresh result).
 */
export function combine<A extends FloatArray>(
  /** [S, D] */ expertOut: FloatArray,
  plan: DispatchPlan<FloatArray>,
  /** [T, D] */ out: A,
  score_scale_factor = 1,
  options?: CombineOptions,
): A {
  const op = 'combine';
  const T = plan.numTokens;
  const S = plan.numSlots;
  if (T === 0 || S === 0) return out;
  if (out.length % T !== 0) throw new RouterError('shape', op, `out has ${out.length} elements, not a multiple of T=${T}; pass [T, D]`);
  const D = out.length / T;
  checkFloat(op, 'expertOut', expertOut, S * D, `[S=${S}, D=${D}]`);
  if (!Number.isFinite(score_scale_factor)) throw new RouterError('argument', op, `score_scale_factor must be finite, got ${score_scale_factor}`);
  const multiply = options?.multiply_gate_scores ?? true;
  for (let s = 0; s < S; s++) {
    const w = slotMultiplier(plan, s, score_scale_factor, multiply);
    const dst = plan.permutation[s]! * D;
    const src = s * D;
    for (let d = 0; d < D; d++) out[dst + d]! += w * expertOut[src + d]!;
  }
  return out;
}

export interface CombineBackward<A extends FloatArray = Float32Array> {
  /** [S, D] dL/d expertOut. */
  dExpertOut: A;
  /**
   * Float64Array [S]: dL/d slotWeights (the gate score of a routed slot, 0 there when
   * multiply_gate_scores is false; the shared weight of a shared slot).
   */
  dSlotWeights: Float64Array;
}

/** Backward of `combine` for dOut [T, D]. */
export function combineBackward<A extends FloatArray>(
  /** [T, D] */ dOut: A,
  /** [S, D] */ expertOut: FloatArray,
  plan: DispatchPlan<FloatArray>,
  score_scale_factor = 1,
  options?: CombineOptions,
): CombineBackward<A> {
  const op = 'combineBackward';
  const T = plan.numTokens;
  const S = plan.numSlots;
  const D = T === 0 ? 0 : dOut.length / T;
  if (T !== 0 && !Number.isInteger(D)) throw new RouterError('shape', op, `dOut has ${dOut.length} elements, not a multiple of T=${T}`);
  checkFloat(op, 'expertOut', expertOut, S * D, `[S=${S}, D=${D}]`);
  const multiply = options?.multiply_gate_scores ?? true;
  const dExpertOut = allocLike(dOut, S * D);
  const dSlotWeights = new Float64Array(S);
  for (let s = 0; s < S; s++) {
    const w = slotMultiplier(plan, s, score_scale_factor, multiply);
    const src = plan.permutation[s]! * D;
    const row = s * D;
    let dot = 0;
    for (let d = 0; d < D; d++) {
      const g = dOut[src + d]!;
      dExpertOut[row + d] = w * g;
      dot += g * expertOut[row + d]!;
    }
    dSlotWeights[s] = s >= plan.routedSlots ? dot : multiply ? dot * score_scale_factor : 0;
  }
  return { dExpertOut, dSlotWeights };
}

/**
 * Maps per-slot weight gradients back to the source score layout ([T, k] for top-k plans, [E, C]
 * for expert-choice plans); dropped selections and shared slots contribute nothing.
 */
export function scatterSlotGrads(plan: DispatchPlan<FloatArray>, /** [S] */ dSlotWeights: ArrayLike<number>): Float64Array {
  if (dSlotWeights.length !== plan.numSlots) {
    throw new RouterError('shape', 'scatterSlotGrads', `dSlotWeights has ${dSlotWeights.length} elements, expected S=${plan.numSlots}`);
  }
  const out = new Float64Array(plan.sourceLength);
  for (let s = 0; s < plan.routedSlots; s++) out[plan.slotSelection[s]!]! += dSlotWeights[s]!;
  return out;
}

/** Int32Array [T]: how many routed experts (after capacity) process each token. */
export function tokenExpertCounts(plan: DispatchPlan<FloatArray>): Int32Array {
  const out = new Int32Array(plan.numTokens);
  for (let s = 0; s < plan.routedSlots; s++) out[plan.permutation[s]!]!++;
  return out;
}

/**
 * LLaMA-MoE `dropped_padding: 'input'`: tokens that no routed expert processed (all their
 * selections dropped, or no expert chose them) pass through: out[t] += x[t]. A no-op for 'zero'.
 */
export function applyDroppedPadding<A extends FloatArray>(/** [T, D] */ x: FloatArray, plan: DispatchPlan<FloatArray>, /** [T, D] */ out: A): A {
  if (plan.droppedPadding !== 'input') return out;
  const T = plan.numTokens;
  if (T === 0) return out;
  const D = x.length / T;
  if (!Number.isInteger(D) || out.length !== x.length) {
    throw new RouterError('shape', 'applyDroppedPadding', `x has ${x.length} and out ${out.length} elements; both must be [T=${T}, D]`);
  }
  const routed = tokenExpertCounts(plan);
  for (let t = 0; t < T; t++) {
    if (routed[t] !== 0) continue;
    for (let d = 0; d < D; d++) out[t * D + d]! += x[t * D + d]!;
  }
  return out;
}

/**
 * Resolves LLaMA-MoE's `score_scale_factor` for one layer: a number applies to every layer, a
 * list gives one value per layer, and undefined gives the default N/k (experts over selections,
 * which restores the dense MLP's output scale after splitting it into N experts of which k run).
 */
export function resolveScoreScale(value: number | readonly number[] | undefined | null, layer: number, numExperts: number, k: number): number {
  const op = 'resolveScoreScale';
  checkDim(op, 'numExperts', numExperts);
  checkDim(op, 'k', k);
  if (value === undefined || value === null) return numExperts / k;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RouterError('argument', op, `score_scale_factor must be finite, got ${value}`);
    return value;
  }
  if (!Array.isArray(value)) throw new RouterError('argument', op, 'score_scale_factor must be a number, a per-layer list of numbers, or undefined');
  checkDim(op, 'layer', layer, 0);
  if (layer >= value.length) {
    throw new RouterError('index', op, `score_scale_factor lists ${value.length} layers but layer ${layer} was asked for; give one value per layer`);
  }
  const v = value[layer];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new RouterError('argument', op, `score_scale_factor[${layer}] must be a finite number, got ${String(v)}`);
  return v;
}
