/**
 * LLaMA-MoE's SwitchBalancedGate + SwitchDropTokenCalculator (Fedus et al. 2021, Switch
 * Transformer): top-1 on softmax probabilities, a per-expert capacity with first-come-first-served
 * dropping, and the switch balance loss E · Σ_e f_e · P̄_e. `switchRoute` is the routing alone
 * (no dispatch plan): the trainable SwitchGate module of `@llama-moe/router/modules` wraps it and
 * its backward as coarse autograd ops.
 */
import { RouterError, allocLike, checkFloat, rowsOf, type FloatArray } from '../errors.js';
import { buildDispatch, expertCapacity, type DispatchOptions, type DispatchPlan, type DroppedPadding } from '../dispatch.js';
import { softmaxRows, softmaxRowsBackward } from '../math.js';

export interface SwitchRouteOptions {
  /** Compute the switch loss (default true). */
  use_balance?: boolean;
  /** w in w · E · Σ f_e P̄_e; default 0.01. */
  balance_loss_weight?: number;
  /**
   * [T, E] selection noise added to the logits before the argmax (LLaMA-MoE's add_noise: Gumbel
   * samples in training), in float64; it moves the routing only, not the scores or P.
   */
  noise?: FloatArray | null;
  /**
   * What a token's combine weight is: 'prob' (default), its softmax probability P[t, argmax]
   * (the Switch paper), or 'logit', the raw clean logit of the chosen expert (LLaMA-MoE's
   * SwitchBalancedGate, which the SwitchGate module follows).
   */
  score?: 'prob' | 'logit';
}

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

export interface SwitchRouting<A extends FloatArray = Float32Array> {
  numTokens: number;
  numExperts: number;
  numSelects: 1;
  /** [T, 1] argmax expert of logits + noise (lower index on ties). */
  topkIndices: Int32Array;
  /** [T, 1] its softmax probability, the Switch combine weight (the raw logit with score 'logit'). */
  topkScores: A;
  /** [T, E] softmax probabilities P. */
  probs: A;
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
  score: 'prob' | 'logit';
}

export interface SwitchGateResult<A extends FloatArray = Float32Array> extends SwitchRouting<A> {
  capacity: number;
  /** Dispatch plan with the capacity applied. */
  plan: DispatchPlan<A>;
  /** Tokens dropped in all, and per expert (= plan.numDropped / plan.droppedPerExpert). */
  droppedTokens: number;
  droppedPerExpert: Int32Array;
}

/** Top-1 routing, scores and switch loss on logits `[T, E]`, without a dispatch plan. */
export function switchRoute<A extends FloatArray>(logits: A, numExperts: number, options: SwitchRouteOptions = {}, op = 'switchRoute'): SwitchRouting<A> {
  const E = numExperts;
  const T = rowsOf(op, 'logits', logits, E);
  const useBalance = options.use_balance ?? true;
  const w = options.balance_loss_weight ?? 1e-2;
  if (!Number.isFinite(w)) throw new RouterError('argument', op, `balance_loss_weight must be finite, got ${w}`);
  const score = options.score ?? 'prob';
  if (score !== 'prob' && score !== 'logit') throw new RouterError('argument', op, `score must be 'prob' or 'logit', got ${String(score)}`);
  const noise = options.noise ?? null;
  if (noise) checkFloat(op, 'noise', noise, T * E, `[T=${T}, E=${E}]`);

  /** [T, E] */ const probs = allocLike(logits, T * E);
  softmaxRows(op, logits, T, E, probs);
  /** [T, 1] */ const topkIndices = new Int32Array(T);
  /** [T, 1] */ const topkScores = allocLike(logits, T);
  /** [E] */ const tokensPerExpert = new Int32Array(E);
  /** [E] */ const meanProb = new Float64Array(E);
  for (let t = 0; t < T; t++) {
    // argmax on the (noisy) logits (same order as on P; strict > keeps the lower index on ties).
    let best = 0;
    let bv = -Infinity;
    for (let e = 0; e < E; e++) {
      const v = noise ? logits[t * E + e]! + noise[t * E + e]! : logits[t * E + e]!;
      if (v > bv) {
        bv = v;
        best = e;
      }
    }
    topkIndices[t] = best;
    topkScores[t] = score === 'logit' ? logits[t * E + best]! : probs[t * E + best]!;
    tokensPerExpert[best]!++;
    for (let e = 0; e < E; e++) meanProb[e]! += probs[t * E + e]!;
  }
  /** [E] */ const fraction = new Float64Array(E);
  let dot = 0;
  for (let e = 0; e < E; e++) {
    if (T > 0) {
      meanProb[e]! /= T;
      fraction[e] = tokensPerExpert[e]! / T;
    }
    dot += fraction[e]! * meanProb[e]!;
  }
  const balanceLoss = useBalance ? w * E * dot : 0;
  return {
    numTokens: T,
    numExperts: E,
    numSelects: 1,
    topkIndices,
    topkScores,
    probs,
    tokensPerExpert,
    fraction,
    meanProb,
    balanceLoss,
    useBalance,
    balanceLossWeight: w,
    score,
  };
}

/** Forward of the Switch gate on logits `[T, E]`: `switchRoute` plus the capacity-limited dispatch plan. */
export function switchGate<A extends FloatArray>(logits: A, numExperts: number, options: SwitchGateOptions = {}): SwitchGateResult<A> {
  const op = 'switchGate';
  const E = numExperts;
  const T = rowsOf(op, 'logits', logits, E);
  const r = switchRoute(logits, E, { use_balance: options.use_balance, balance_loss_weight: options.balance_loss_weight }, op);
  const capacity = options.capacity ?? expertCapacity(options.capacity_factor ?? 1.25, T, E);
  const plan = buildDispatch(r.topkIndices, r.topkScores, E, 1, {
    capacity,
    dropped_padding: options.dropped_padding ?? 'zero',
    n_shared_experts: options.n_shared_experts,
    shared_expert_weights: options.shared_expert_weights,
  });
  return { ...r, capacity, plan, droppedTokens: plan.numDropped, droppedPerExpert: plan.droppedPerExpert };
}

export interface SwitchGateGrads {
  /** [T, 1] upstream gradient of topkScores. */
  dTopkScores?: FloatArray | null;
  /** Upstream gradient of balanceLoss. */
  dBalanceLoss?: number;
}

/**
 * Backward of `switchGate` / `switchRoute` to the logits: the switch loss flows through P̄ only
 * (f_e counts an argmax and has no gradient, as in the paper), the scores through P[t, argmax]
 * (or straight to the chosen logit with score 'logit'). The selection noise gets no gradient.
 */
export function switchGateBackward<A extends FloatArray>(fwd: SwitchRouting<A>, grads: SwitchGateGrads): A {
  const op = 'switchGateBackward';
  const { numTokens: T, numExperts: E } = fwd;
  const dScores = grads.dTopkScores ?? null;
  if (dScores && dScores.length !== T) throw new RouterError('shape', op, `dTopkScores has ${dScores.length} elements, expected [T=${T}, 1]`);
  const dB = grads.dBalanceLoss ?? 0;
  /** [T, E] dL/dP */ const dP = new Float64Array(T * E);
  if (fwd.useBalance && dB !== 0 && T > 0) {
    for (let t = 0; t < T; t++) {
      for (let e = 0; e < E; e++) dP[t * E + e] = (dB * fwd.balanceLossWeight * E * fwd.fraction[e]!) / T;
    }
  }
  const byLogit = fwd.score === 'logit';
  if (dScores && !byLogit) for (let t = 0; t < T; t++) dP[t * E + fwd.topkIndices[t]!]! += dScores[t]!;
  const out = allocLike(fwd.probs, T * E);
  softmaxRowsBackward(fwd.probs, dP, T, E, out);
  if (dScores && byLogit) for (let t = 0; t < T; t++) out[t * E + fwd.topkIndices[t]!]! += dScores[t]!;
  return out;
}
