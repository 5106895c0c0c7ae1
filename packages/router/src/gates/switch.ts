/**
 * LLaMA-MoE's SwitchBalancedGate + SwitchDropTokenCalculator (Fedus et al. 2021, Switch
 * Transformer): top-1 on softmax probabilities, a per-expert capacity with first-come-first-served
 * dropping, and the switch balance loss E · Σ_e f_e · P̄_e.
 */
import { RouterError, allocLike, rowsOf, type FloatArray } from '../errors.js';
import { buildDispatch, expertCapacity, type DispatchOptions, type DispatchPlan, type DroppedPadding } from '../dispatch.js';
import { softmaxRows, softmaxRowsBackward } from '../math.js';

export interface SwitchGateOptions {
  /** Capacity C = max(1, floor(capacity_factor · T / E)); default 1.25 (LLaMA-MoE's default). */
  capacity_factor?: number;
  /** Explicit capacity overriding capacity_factor (e.g. Infinity for no dropping). */
  capacity?: number;
  /** Compute the switch loss (default true). */
  use_balance?: boolean;
  /** w in w · E · Σ f_e P̄_e; default 0.01. */
  balance_loss_weight?: number;
  /** Output of dropped tokens: 'zero' (default) or 'input' (pass-through). Stored on the plan. */
  dropped_padding?: DroppedPadding;
  n_shared_experts?: DispatchOptions['n_shared_experts'];
  shared_expert_weights?: DispatchOptions['shared_expert_weights'];
}

export interface SwitchGateResult<A extends FloatArray = Float32Array> {
  numTokens: number;
  numExperts: number;
  numSelects: 1;
  /** [T, 1] argmax expert (lower index on ties). */
  topkIndices: Int32Array;
  /** [T, 1] its softmax probability, the Switch combine weight. */
  topkScores: A;
  /** [T, E] softmax probabilities P. */
  probs: A;
  capacity: number;
  /** Int32Array [E]: tokens routed to each expert before dropping. */
  tokensPerExpert: Int32Array;
  /** Float64Array [E]: f_e = tokensPerExpert / T. */
  fraction: Float64Array;
  /** Float64Array [E]: P̄_e = mean_t P[t, e]. */
  meanProb: Float64Array;
  /** w · E · Σ_e f_e · P̄_e (0 when use_balance is false). */
  balanceLoss: number;
  useBalance: boolean;
  balanceLossWeight: number;
  /** Dispatch plan with the capacity applied. */
  plan: DispatchPlan<A>;
  /** Tokens dropped in all, and per expert (= plan.numDropped / plan.droppedPerExpert). */
  droppedTokens: number;
  droppedPerExpert: Int32Array;
}

/** Forward of the Switch gate on logits `[T, E]`. */
export function switchGate<A extends FloatArray>(logits: A, numExperts: number, options: SwitchGateOptions = {}): SwitchGateResult<A> {
  const op = 'switchGate';
  const E = numExperts;
  const T = rowsOf(op, 'logits', logits, E);
  const useBalance = options.use_balance ?? true;
  const w = options.balance_loss_weight ?? 1e-2;
  if (!Number.isFinite(w)) throw new RouterError('argument', op, `balance_loss_weight must be finite, got ${w}`);
  const capacity = options.capacity ?? expertCapacity(options.capacity_factor ?? 1.25, T, E);

  /** [T, E] */ const probs = allocLike(logits, T * E);
  softmaxRows(op, logits, T, E, probs);
  /** [T, 1] */ const topkIndices = new Int32Array(T);
  /** [T, 1] */ const topkScores = allocLike(logits, T);
  /** [E] */ const tokensPerExpert = new Int32Array(E);
  /** [E] */ const meanProb = new Float64Array(E);
  for (let t = 0; t < T; t++) {
    // argmax on the logits (same order as on P; strict > keeps the lower index on ties).
    let best = 0;
    for (let e = 1; e < E; e++) if (logits[t * E + e] > logits[t * E + best]) best = e;
    topkIndices[t] = best;
    topkScores[t] = probs[t * E + best];
    tokensPerExpert[best]++;
    for (let e = 0; e < E; e++) meanProb[e] += probs[t * E + e];
  }
  /** [E] */ const fraction = new Float64Array(E);
  let dot = 0;
  for (let e = 0; e < E; e++) {
    if (T > 0) {
      meanProb[e] /= T;
      fraction[e] = tokensPerExpert[e] / T;
    }
    dot += fraction[e] * meanProb[e];
  }
  const balanceLoss = useBalance ? w * E * dot : 0;
  const plan = buildDispatch(topkIndices, topkScores, E, 1, {
    capacity,
    dropped_padding: options.dropped_padding ?? 'zero',
    n_shared_experts: options.n_shared_experts,
    shared_expert_weights: options.shared_expert_weights,
  });
  return {
    numTokens: T,
    numExperts: E,
    numSelects: 1,
    topkIndices,
    topkScores,
    probs,
    capacity,
    tokensPerExpert,
    fraction,
    meanProb,
    balanceLoss,
    useBalance,
    balanceLossWeight: w,
    plan,
    droppedTokens: plan.numDropped,
    droppedPerExpert: plan.droppedPerExpert,
  };
}

export interface SwitchGateGrads {
  /** [T, 1] upstream gradient of topkScores. */
  dTopkScores?: FloatArray | null;
  /** Upstream gradient of balanceLoss. */
  dBalanceLoss?: number;
}

/**
 * Backward of `switchGate` to the logits: the switch loss flows through P̄ only (f_e counts an
 * argmax and has no gradient, as in the paper), the scores through P[t, argmax].
 */
export function switchGateBackward<A extends FloatArray>(fwd: SwitchGateResult<A>, grads: SwitchGateGrads): A {
  const op = 'switchGateBackward';
  const { numTokens: T, numExperts: E } = fwd;
  const dScores = grads.dTopkScores ?? null;
  if (dScores && dScores.length !== T) throw new RouterError('shape', op, `dTopkScores has ${dScores.length} elements, expected [T=${T}, 1]`);
  const dB = grads.dBalanceLoss ?? 0;
  /** [T, E] dL/dP */ const dP = new Float64Array(T * E);
  if (fwd.useBalance && dB !== 0 && T > 0) {
    for (let t = 0; t < T; t++) {
      for (let e = 0; e < E; e++) dP[t * E + e] = (dB * fwd.balanceLossWeight * E * fwd.fraction[e]) / T;
    }
  }
  if (dScores) for (let t = 0; t < T; t++) dP[t * E + fwd.topkIndices[t]] += dScores[t];
  const out = allocLike(fwd.probs, T * E);
  softmaxRowsBackward(fwd.probs, dP, T, E, out);
  return out;
}
