/**
 * Mixtral's router (Hugging Face transformers MixtralSparseMoeBlock) and its auxiliary loss
 * (`load_balancing_loss_func`): softmax over all E experts, top-k, renormalise the k weights
 * (`norm_topk_prob`), and the Switch-style loss E · Σ_{k,e} tokens_per_expert[k, e] · P̄_e.
 */
import { RouterError, allocLike, checkDim, isFloatArray, rowsOf, type FloatArray } from '../errors.js';
import { softmaxRows, softmaxRowsBackward } from '../math.js';
import type { Rng } from '../rng.js';
import { topkRows } from '../topk.js';
import { checkNumSelects } from './noisy-topk.js';

export interface MixtralGateOptions {
  /** k (Mixtral config `num_experts_per_tok`); default 2. */
  num_experts_per_tok?: number;
  /** Renormalise the k routing weights to sum 1 (default true; Mixtral always does, Qwen-MoE makes it `norm_topk_prob`). */
  norm_topk_prob?: boolean;
  /** Multiplier of the aux loss (Mixtral config `router_aux_loss_coef`); default 0.001. */
  router_aux_loss_coef?: number;
  /** [T] 1 for real tokens, 0 for padding (HF's attention_mask, flattened); padding is left out of the aux loss means. */
  attention_mask?: ArrayLike<number> | null;
}

export interface MixtralGateResult<A extends FloatArray = Float32Array> {
  numTokens: number;
  numExperts: number;
  numSelects: number;
  /** [T, k] selected experts by descending probability (lower index on ties). */
  topkIndices: Int32Array;
  /** [T, k] routing weights (renormalised when norm_topk_prob). */
  topkScores: A;
  /** [T, E] softmax probabilities. */
  probs: A;
  /** Float64Array [k, E]: HF `tokens_per_expert`, mean over tokens of the one-hot expert mask. */
  tokensPerExpert: Float64Array;
  /** Float64Array [E]: HF `router_prob_per_expert`, mean over tokens of probs. */
  routerProbPerExpert: Float64Array;
  /** HF `load_balancing_loss_func` for this layer (before the coefficient). */
  auxLoss: number;
  /** router_aux_loss_coef · auxLoss. */
  balanceLoss: number;
  normTopkProb: boolean;
  routerAuxLossCoef: number;
  /** [T] float mask used, or null. */
  attentionMask: Float64Array | null;
}

function readMask(op: string, mask: ArrayLike<number> | null | undefined, T: number): Float64Array | null {
  if (mask === null || mask === undefined) return null;
  if (T % mask.length !== 0 || mask.length === 0) {
    throw new RouterError('shape', op, `attention_mask has ${mask.length} elements; it must divide the token count ${T} (one [batch·seq] mask shared by every layer)`);
  }
  const out = new Float64Array(T);
  let any = 0;
  for (let t = 0; t < T; t++) {
    out[t] = Number(mask[t % mask.length]);
    any += out[t]!;
  }
  if (!(any > 0)) throw new RouterError('value', op, 'attention_mask selects no token; the aux loss means would divide by zero');
  return out;
}

/**
 * HF's one-layer-or-concatenated aux loss given probabilities `[T, E]` and selections `[T, k]`.
 * Fills tokensPerExpert [k, E] and routerProbPerExpert [E]; returns E · Σ tpe · rppe.
 */
function auxLossFrom(
  /** [T, E] */ probs: FloatArray,
  /** [T, k] */ sel: Int32Array,
  T: number,
  E: number,
  k: number,
  mask: Float64Array | null,
  /** [k, E] */ tpe: Float64Array,
  /** [E] */ rppe: Float64Array,
): number {
  let denom = 0;
  for (let t = 0; t < T; t++) {
    const mt = mask ? mask[t]! : 1;
    denom += mt;
    for (let j = 0; j < k; j++) tpe[j * E + sel[t * k + j]!]! += mt;
    for (let e = 0; e < E; e++) rppe[e]! += mt * probs[t * E + e]!;
  }
  if (denom > 0) {
    for (let i = 0; i < k * E; i++) tpe[i]! /= denom;
    for (let e = 0; e < E; e++) rppe[e]! /= denom;
  }
  let loss = 0;
  for (let j = 0; j < k; j++) for (let e = 0; e < E; e++) loss += tpe[j * E + e]! * rppe[e]!;
  return loss * E;
}

/** Forward of Mixtral's router on logits `[T, E]`. */
export function mixtralGate<A extends FloatArray>(logits: A, numExperts: number, options: MixtralGateOptions = {}): MixtralGateResult<A> {
  const op = 'mixtralGate';
  const E = numExperts;
  const T = rowsOf(op, 'logits', logits, E);
  const k = options.num_experts_per_tok ?? 2;
  checkNumSelects(op, 'num_experts_per_tok', k, E);
  const norm = options.norm_topk_prob ?? true;
  const coef = options.router_aux_loss_coef ?? 1e-3;
  if (!Number.isFinite(coef)) throw new RouterError('argument', op, `router_aux_loss_coef must be finite, got ${coef}`);
  const mask = readMask(op, options.attention_mask, T);

  /** [T, E] */ const probs = allocLike(logits, T * E);
  softmaxRows(op, logits, T, E, probs);
  /** [T, k] */ const topkIndices = new Int32Array(T * k);
  /** [T, k] */ const topkScores = allocLike(logits, T * k);
  // Select on the probabilities, as HF does (softmax is monotone, so this equals selecting on logits
  // up to float ties).
  topkRows(op, probs, T, E, k, topkIndices, topkScores);
  if (norm) {
    for (let t = 0; t < T; t++) {
      let sum = 0;
      for (let j = 0; j < k; j++) sum += topkScores[t * k + j]!;
      for (let j = 0; j < k; j++) topkScores[t * k + j]! /= sum;
    }
  }
  const tokensPerExpert = new Float64Array(k * E);
  const routerProbPerExpert = new Float64Array(E);
  const auxLoss = T > 0 ? auxLossFrom(probs, topkIndices, T, E, k, mask, tokensPerExpert, routerProbPerExpert) : 0;
  return {
    numTokens: T,
    numExperts: E,
    numSelects: k,
    topkIndices,
    topkScores,
    probs,
    tokensPerExpert,
    routerProbPerExpert,
    auxLoss,
    balanceLoss: coef * auxLoss,
    normTopkProb: norm,
    routerAuxLossCoef: coef,
    attentionMask: mask,
  };
}

export interface MixtralGateGrads {
  /** [T, k] upstream gradient of the routing weights. */
  dTopkScores?: FloatArray | null;
  /** Upstream gradient of balanceLoss (= coef · auxLoss). */
  dBalanceLoss?: number;
}

/**
 * Backward of `mixtralGate` to the logits. The aux loss flows through router_prob_per_expert only
 * (the one-hot mask has no gradient, as in torch); the weights through the renormalisation and
 * the softmax.
 */
export function mixtralGateBackward<A extends FloatArray>(fwd: MixtralGateResult<A>, grads: MixtralGateGrads): A {
  const op = 'mixtralGateBackward';
  const { numTokens: T, numExperts: E, numSelects: k } = fwd;
  const dScores = grads.dTopkScores ?? null;
  if (dScores && dScores.length !== T * k) throw new RouterError('shape', op, `dTopkScores has ${dScores.length} elements, expected [T=${T}, k=${k}]`);
  const dB = grads.dBalanceLoss ?? 0;
  /** [T, E] dL/dprobs */ const dP = new Float64Array(T * E);
  if (dB !== 0 && T > 0) {
    const mask = fwd.attentionMask;
    let denom = 0;
    for (let t = 0; t < T; t++) denom += mask ? mask[t]! : 1;
    /** [E] Σ_k tokens_per_expert[k, e] */ const tSum = new Float64Array(E);
    for (let j = 0; j < k; j++) for (let e = 0; e < E; e++) tSum[e]! += fwd.tokensPerExpert[j * E + e]!;
    const c = (dB * fwd.routerAuxLossCoef * E) / denom;
    for (let t = 0; t < T; t++) {
      const mt = mask ? mask[t]! : 1;
      for (let e = 0; e < E; e++) dP[t * E + e] = c * mt * tSum[e]!;
    }
  }
  if (dScores) {
    for (let t = 0; t < T; t++) {
      const b = t * k;
      if (fwd.normTopkProb) {
        // w_j = p_j / Σp  ⇒  dp_j = (g_j − Σ_i w_i g_i) / Σp, with Σp recovered from the probs.
        let sum = 0;
        let dot = 0;
        for (let j = 0; j < k; j++) {
          sum += fwd.probs[t * E + fwd.topkIndices[b + j]!]!;
          dot += fwd.topkScores[b + j]! * dScores[b + j]!;
        }
        for (let j = 0; j < k; j++) dP[t * E + fwd.topkIndices[b + j]!]! += (dScores[b + j]! - dot) / sum;
      } else {
        for (let j = 0; j < k; j++) dP[t * E + fwd.topkIndices[b + j]!]! += dScores[b + j]!;
      }
    }
  }
  const out = allocLike(fwd.probs, T * E);
  softmaxRowsBackward(fwd.probs, dP, T, E, out);
  return out;
}

/**
 * HF transformers `load_balancing_loss_func(gate_logits, num_experts, top_k, attention_mask)`:
 * `gate_logits` is one layer's `[T, E]` logits or a list of layers (concatenated along tokens,
 * as HF does), `attention_mask` the flattened `[batch·seq]` mask shared by every layer. Returns
 * the loss before `router_aux_loss_coef`.
 */
export function loadBalancingLoss(
  gateLogits: FloatArray | readonly FloatArray[],
  num_experts: number,
  top_k = 2,
  attention_mask?: ArrayLike<number> | null,
): number {
  const op = 'loadBalancingLoss';
  const layers = isFloatArray(gateLogits) ? [gateLogits] : gateLogits;
  if (!Array.isArray(layers) || layers.length === 0) throw new RouterError('argument', op, 'gate_logits must be a [T, E] buffer or a non-empty list of them');
  const E = num_experts;
  checkDim(op, 'num_experts', E);
  checkNumSelects(op, 'top_k', top_k, E);
  const rows = layers.map((l, i) => rowsOf(`${op} gate_logits[${i}]`, 'logits', l, E));
  if (attention_mask) {
    for (let i = 0; i < rows.length; i++) {
      if (rows[i] !== attention_mask.length) {
        throw new RouterError('shape', op, `gate_logits[${i}] has ${rows[i]} tokens but attention_mask has ${attention_mask.length}; each layer must cover batch·seq tokens`);
      }
    }
  }
  const T = rows.reduce((a, b) => a + b, 0);
  const probs = new Float64Array(T * E);
  let off = 0;
  for (let i = 0; i < layers.length; i++) {
    softmaxRows(op, layers[i], rows[i]!, E, probs.subarray(off * E, (off + rows[i]!) * E));
    off += rows[i]!;
  }
  const sel = new Int32Array(T * top_k);
  topkRows(op, probs, T, E, top_k, sel, new Float64Array(T * top_k));
  const mask = readMask(op, attention_mask, T);
  return auxLossFrom(probs, sel, T, E, top_k, mask, new Float64Array(top_k * E), new Float64Array(E));
}

/**
 * Mixtral's `router_jitter_noise`: multiplies every element of the hidden states by
 * uniform(1 − jitter, 1 + jitter) (training only). Returns a new buffer; pass `multipliers` (same
 * length) to keep the factors for the backward (dx = dy · multiplier).
 */
export function applyJitter<A extends FloatArray>(x: A, jitter: number, rng: Rng, multipliers?: FloatArray): A {
  const op = 'applyJitter';
  if (!(jitter >= 0) || !(jitter < 1)) throw new RouterError('argument', op, `jitter must be in [0, 1), got ${jitter}`);
  if (multipliers && multipliers.length !== x.length) {
    throw new RouterError('shape', op, `multipliers has ${multipliers.length} elements, expected ${x.length} (same as x)`);
  }
  const out = allocLike(x, x.length);
  for (let i = 0; i < x.length; i++) {
    const f = 1 - jitter + 2 * jitter * rng.uniform();
    if (multipliers) multipliers[i] = f;
    out[i] = x[i]! * f;
  }
  return out;
}
