/**
 * Reference MoE layer drivers on plain buffers: `moeForward` runs dispatch → one call per expert
 * on its contiguous rows → combine, the way a real backend batches experts; `naiveMoeForward`
 * walks token by token with no plan at all and is the oracle the tests compare against.
 */
import { RouterError, allocLike, checkDim, checkFloat, type FloatArray } from './errors.js';
import {
  applyDroppedPadding,
  buildDispatch,
  combine,
  gatherRows,
  type CombineOptions,
  type DispatchOptions,
  type DispatchPlan,
} from './dispatch.js';

/**
 * One expert applied to `n` gathered rows `[n, D]`; returns `[n, D]`. Ids E..E+Es−1 are the
 * shared experts. Must act row-wise for the naive reference to agree.
 */
export type ExpertFn = (expert: number, rows: Float32Array | Float64Array, n: number) => FloatArray;

export interface MoeForwardOptions extends CombineOptions {
  /** LLaMA-MoE `score_scale_factor` already resolved for this layer (see resolveScoreScale); default 1. */
  score_scale_factor?: number;
}

function checkExpertOut(op: string, e: number, y: unknown, n: number, D: number): FloatArray {
  if (!(y instanceof Float32Array || y instanceof Float64Array) || y.length !== n * D) {
    throw new RouterError('shape', op, `expertFn(${e}) must return a Float32Array/Float64Array [n=${n}, D=${D}], got ${y instanceof Object ? `${y.constructor.name}(${(y as { length?: number }).length})` : String(y)}`);
  }
  return y;
}

/**
 * Runs a MoE layer on x `[T, D]` following `plan`: gathers every expert's rows into one block,
 * calls `expertFn` once per expert with rows (experts with no rows are skipped), and combines.
 * Tokens no routed expert processed get `plan.droppedPadding`. Returns out `[T, D]`.
 */
export function moeForward<A extends FloatArray>(x: A, plan: DispatchPlan<FloatArray>, expertFn: ExpertFn, options: MoeForwardOptions = {}): A {
  const op = 'moeForward';
  const T = plan.numTokens;
  const out = allocLike(x, x.length);
  if (T === 0) return out;
  if (x.length % T !== 0) throw new RouterError('shape', op, `x has ${x.length} elements, not a multiple of T=${T}; pass [T, D]`);
  const D = x.length / T;
  /** [S, D] */ const rows = gatherRows(x, plan.permutation, D);
  /** [S, D] */ const expertOut = allocLike(x, plan.numSlots * D);
  const nAll = plan.numExperts + plan.numSharedExperts;
  for (let e = 0; e < nAll; e++) {
    const a = plan.offsets[e]!;
    const n = plan.offsets[e + 1]! - a;
    if (n === 0) continue;
    const y = checkExpertOut(op, e, expertFn(e, rows.subarray(a * D, (a + n) * D), n), n, D);
    expertOut.set(y, a * D);
  }
  combine(expertOut, plan, out, options.score_scale_factor ?? 1, options);
  applyDroppedPadding(x, plan, out);
  return out;
}

export interface NaiveMoeOptions extends DispatchOptions, MoeForwardOptions {}

/**
 * Token-by-token reference: for each token t and choice j, if expert e still has capacity
 * (first come, first served in token order), out[t] += w·expert_e(x[t]); then every shared
 * expert with its weight; tokens with no routed expert get x[t] when dropped_padding is 'input'.
 * Deliberately shares no code with the plan path.
 */
export function naiveMoeForward<A extends FloatArray>(
  /** [T, D] */ x: A,
  /** [T, k] */ topkIndices: Int32Array,
  /** [T, k] */ topkScores: FloatArray,
  numExperts: number,
  k: number,
  expertFn: ExpertFn,
  options: NaiveMoeOptions = {},
): A {
  const op = 'naiveMoeForward';
  checkDim(op, 'k', k);
  const T = topkIndices.length / k;
  checkFloat(op, 'topkScores', topkScores, T * k, `[T=${T}, k=${k}]`);
  const out = allocLike(x, x.length);
  if (T === 0) return out;
  const D = x.length / T;
  const capacity = options.capacity ?? Infinity;
  const scale = options.score_scale_factor ?? 1;
  const multiply = options.multiply_gate_scores ?? true;
  const Es = options.n_shared_experts ?? 0;
  const sw = options.shared_expert_weights ?? 1;
  const used = new Array<number>(numExperts).fill(0);
  for (let t = 0; t < T; t++) {
    const row = x.slice(t * D, (t + 1) * D) as A;
    let routed = 0;
    for (let j = 0; j < k; j++) {
      const e = topkIndices[t * k + j]!;
      if (used[e]! >= capacity) continue;
      used[e]!++;
      routed++;
      const y = checkExpertOut(op, e, expertFn(e, row.slice() as A, 1), 1, D);
      const w = multiply ? topkScores[t * k + j]! * scale : scale;
      for (let d = 0; d < D; d++) out[t * D + d]! += w * y[d]!;
    }
    for (let s = 0; s < Es; s++) {
      const w = typeof sw === 'number' ? sw : sw.length === Es ? sw[s]! : sw[t * Es + s]!;
      const y = checkExpertOut(op, numExperts + s, expertFn(numExperts + s, row.slice() as A, 1), 1, D);
      for (let d = 0; d < D; d++) out[t * D + d]! += w * y[d]!;
    }
    if (routed === 0 && options.dropped_padding === 'input') {
      for (let d = 0; d < D; d++) out[t * D + d]! += row[d]!;
    }
  }
  return out;
}

/** Convenience: buildDispatch + moeForward for top-k routing. */
export function moeForwardTopk<A extends FloatArray>(
  /** [T, D] */ x: A,
  /** [T, k] */ topkIndices: Int32Array,
  /** [T, k] */ topkScores: FloatArray,
  numExperts: number,
  k: number,
  expertFn: ExpertFn,
  options: NaiveMoeOptions = {},
): A {
  const plan = buildDispatch(topkIndices, topkScores, numExperts, k, options);
  return moeForward(x, plan, expertFn, options);
}
