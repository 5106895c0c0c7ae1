/**
 * LLaMA-MoE's TopKBalancedNoisyGate (smoe/modules/moe/moe_gates.py), after Shazeer et al. 2017
 * "Outrageously Large Neural Networks": noisy top-k gating with the importance + smooth-load
 * balance loss. Pure functions on flat row-major buffers: the caller computes the clean logits
 * `x · W_gate` and (in training) `noise_std = softplus(x · W_noise) + noise_epsilon` (see
 * `noiseControl`) and draws `eps ~ N(0, 1)` (see `createRng().fillNormal`). The forward keeps
 * every intermediate its analytic backward needs, so an autograd module can wrap both.
 */
import { RouterError, allocLike, checkDim, checkFloat, rowsOf, type FloatArray } from '../errors.js';
import { cvSquared, cvSquaredBackward } from '../losses.js';
import { normalCdf, normalPdf } from '../math.js';
import { topkRows } from '../topk.js';

export interface NoisyTopKNoise<A extends FloatArray = Float32Array> {
  /** [T, E] noise standard deviation, LLaMA-MoE's `noise_control` (softplus(x·W_noise) + noise_epsilon); must be > 0. */
  noise_std: A;
  /** [T, E] standard normal samples (LLaMA-MoE's `torch.randn_like(logits_gate)`). */
  eps: A;
}

export interface NoisyTopKOptions<A extends FloatArray = Float32Array> {
  /** k: experts per token (LLaMA-MoE `num_selects`). */
  num_selects: number;
  /** Softmax over the k selected logits (true, default) or the raw top-k logits as scores (false). */
  use_softmax?: boolean;
  /** Compute the balance loss (default true); false gives balanceLoss 0. */
  use_balance?: boolean;
  /** Weight w of the balance loss w·(cv²(importance) + cv²(load)); default 0.01. */
  balance_loss_weight?: number;
  /** Training noise; omit (or null) for evaluation, which routes on the clean logits. */
  noise?: NoisyTopKNoise<A> | null;
  /**
   * LLaMA-MoE's released code compares the *noise* `eps·noise_std` (its `logits_noise`) with the
   * in-threshold instead of the noisy logit that Shazeer et al. define. false (default) follows
   * the paper and this package's documentation; true reproduces the reference bit-for-bit.
   */
  reference_is_in_quirk?: boolean;
}

export interface NoisyTopKIntermediates<A extends FloatArray = Float32Array> {
  /** [T, E] clean logits H (the caller's buffer, not copied). */
  logits: A;
  /** [T, E] noisy logits H + eps·noise_std (the `logits` buffer itself when there is no noise). */
  noisyLogits: A;
  /** [T, E] or null (the caller's buffers). */
  noiseStd: A | null;
  eps: A | null;
  /** min(k + 1, E): how many ranked entries per row were kept. */
  m: number;
  /** [T, m] expert indices of the m largest noisy logits per token, descending. */
  topIndices: Int32Array;
  /** [T, m] their noisy logits. */
  topValues: A;
  /** Whether `load` is the smooth estimator (noise on and k < E) rather than counts. */
  smoothLoad: boolean;
  /** [T, E] 1 where the smooth estimator used threshold_if_in; null without smooth load. */
  isIn: Uint8Array | null;
  /** [T, E] the Φ arguments (H − threshold)/noise_std; null without smooth load. */
  z: Float64Array | null;
  cvImportance: number;
  cvLoad: number;
}

export interface NoisyTopKResult<A extends FloatArray = Float32Array> {
  numTokens: number;
  numExperts: number;
  numSelects: number;
  /** [T, k] selected experts, by descending noisy logit; ties go to the lower index. */
  topkIndices: Int32Array;
  /** [T, k] gate scores: softmax over the k selected noisy logits (or the raw logits). */
  topkScores: A;
  /** Float64Array [E]: Σ_t score(t, e). */
  importance: Float64Array;
  /** Float64Array [E]: smooth load estimate Σ_t P(e in top-k of t), or routed-token counts. */
  load: Float64Array;
  /** w·(cv²(importance) + cv²(load)), 0 when use_balance is false. */
  balanceLoss: number;
  useSoftmax: boolean;
  useBalance: boolean;
  balanceLossWeight: number;
  intermediates: NoisyTopKIntermediates<A>;
}

/** Validates k against E with a message naming the option. */
export function checkNumSelects(op: string, name: string, k: unknown, E: number): asserts k is number {
  checkDim(op, name, k);
  if ((k as number) > E) throw new RouterError('argument', op, `${name}=${k} exceeds the number of experts ${E}; choose k <= E`);
}

/**
 * Forward of TopKBalancedNoisyGate on clean logits `[T, E]`.
 *
 * Routing: top-k by noisy logit (clean logit without noise). Scores: softmax over the k selected
 * noisy logits. importance_e = Σ_t scores(t, e). load_e: with noise and k < E, Shazeer's smooth
 * estimator Σ_t Φ((H − thr)/noise_std), thr the (k+1)-th largest noisy logit of the row if
 * (t, e) is in the top-k and the k-th otherwise; else the number of tokens routed to e.
 */
export function noisyTopKGate<A extends FloatArray>(logits: A, numExperts: number, options: NoisyTopKOptions<A>): NoisyTopKResult<A> {
  const op = 'noisyTopKGate';
  const E = numExperts;
  const T = rowsOf(op, 'logits', logits, E);
  const k = options?.num_selects;
  checkNumSelects(op, 'num_selects', k, E);
  const useSoftmax = options.use_softmax ?? true;
  const useBalance = options.use_balance ?? true;
  const w = options.balance_loss_weight ?? 1e-2;
  if (!Number.isFinite(w)) throw new RouterError('argument', op, `balance_loss_weight must be finite, got ${w}`);
  const noise = options.noise ?? null;

  let noisy: A = logits;
  if (noise) {
    checkFloat(op, 'noise.noise_std', noise.noise_std, T * E, `[T=${T}, E=${E}]`);
    checkFloat(op, 'noise.eps', noise.eps, T * E, `[T=${T}, E=${E}]`);
    noisy = allocLike(logits, T * E);
    for (let i = 0; i < T * E; i++) {
      const s = noise.noise_std[i]!;
      if (!(s > 0)) throw new RouterError('value', op, `noise.noise_std[${Math.floor(i / E)}, ${i % E}] = ${s} must be > 0; add noise_epsilon`);
      noisy[i] = logits[i]! + noise.eps[i]! * s;
    }
  }

  const m = Math.min(k + 1, E);
  /** [T, m] */ const topIndices = new Int32Array(T * m);
  /** [T, m] */ const topValues = allocLike(logits, T * m);
  topkRows(op, noisy, T, E, m, topIndices, topValues);

  /** [T, k] */ const topkIndices = new Int32Array(T * k);
  /** [T, k] */ const topkScores = allocLike(logits, T * k);
  /** [E] */ const importance = new Float64Array(E);
  for (let t = 0; t < T; t++) {
    const src = t * m;
    const dst = t * k;
    if (useSoftmax) {
      // Entries are descending, so the first is the max.
      const max = topValues[src]!;
      if (!Number.isFinite(max)) throw new RouterError('value', op, `token ${t}: the largest logit is ${max}; softmax over the top-k needs a finite one`);
      let sum = 0;
      for (let j = 0; j < k; j++) sum += Math.exp(topValues[src + j]! - max);
      for (let j = 0; j < k; j++) topkScores[dst + j] = Math.exp(topValues[src + j]! - max) / sum;
    } else {
      for (let j = 0; j < k; j++) topkScores[dst + j] = topValues[src + j]!;
    }
    for (let j = 0; j < k; j++) {
      const e = topIndices[src + j]!;
      topkIndices[dst + j] = e;
      importance[e]! += topkScores[dst + j]!;
    }
  }

  const smoothLoad = noise !== null && k < E;
  /** [E] */ const load = new Float64Array(E);
  let isIn: Uint8Array | null = null;
  let z: Float64Array | null = null;
  if (smoothLoad) {
    const quirk = options.reference_is_in_quirk ?? false;
    isIn = new Uint8Array(T * E);
    z = new Float64Array(T * E);
    for (let t = 0; t < T; t++) {
      // Positions k and k−1 of the descending top-(k+1): LLaMA-MoE's threshold_positions_if_in/out.
      const thrIn = topValues[t * m + k]!;
      const thrOut = topValues[t * m + k - 1]!;
      for (let e = 0; e < E; e++) {
        const i = t * E + e;
        const probe = quirk ? noise.eps[i]! * noise.noise_std[i]! : noisy[i]!;
        const inside = probe > thrIn;
        isIn[i] = inside ? 1 : 0;
        const zi = (logits[i]! - (inside ? thrIn : thrOut)) / noise.noise_std[i]!;
        z[i] = zi;
        load[e]! += normalCdf(zi);
      }
    }
  } else {
    for (let i = 0; i < T * k; i++) load[topkIndices[i]!]! += 1;
  }

  const cvImportance = cvSquared(importance);
  const cvLoad = cvSquared(load);
  const balanceLoss = useBalance ? w * (cvImportance + cvLoad) : 0;

  return {
    numTokens: T,
    numExperts: E,
    numSelects: k,
    topkIndices,
    topkScores,
    importance,
    load,
    balanceLoss,
    useSoftmax,
    useBalance,
    balanceLossWeight: w,
    intermediates: {
      logits,
      noisyLogits: noisy,
      noiseStd: noise ? noise.noise_std : null,
      eps: noise ? noise.eps : null,
      m,
      topIndices,
      topValues,
      smoothLoad,
      isIn,
      z,
      cvImportance,
      cvLoad,
    },
  };
}

export interface NoisyTopKGrads {
  /** [T, k] upstream gradient of the scores (from combineBackward → scatterSlotGrads). */
  dTopkScores?: FloatArray | null;
  /** Upstream gradient of balanceLoss (usually 1 when it is added to the training loss). */
  dBalanceLoss?: number;
}

export interface NoisyTopKBackward<A extends FloatArray = Float32Array> {
  /** [T, E] dL/dH, the gradient for the clean logits x·W_gate. */
  dLogits: A;
  /** [T, E] dL/d noise_std (chain through `noiseControlBackward` for W_noise); null without noise. */
  dNoiseStd: A | null;
}

/**
 * Analytic backward of `noisyTopKGate`, the same graph PyTorch differentiates in the reference:
 * scores → top-k noisy logits (softmax backward), importance → scores, smooth load → Φ arguments
 * (clean logit, noise_std, and the two thresholds, which are noisy logits of other experts),
 * noisy = H + eps·noise_std. Routing decisions (which k, is_in) are piecewise constant and get
 * no gradient, as in PyTorch. Computed in float64.
 */
export function noisyTopKBackward<A extends FloatArray>(fwd: NoisyTopKResult<A>, grads: NoisyTopKGrads): NoisyTopKBackward<A> {
  const op = 'noisyTopKBackward';
  const { numTokens: T, numExperts: E, numSelects: k, intermediates: im } = fwd;
  const m = im.m;
  const dScores = grads.dTopkScores ?? null;
  if (dScores) checkFloat(op, 'dTopkScores', dScores, T * k, `[T=${T}, k=${k}]`);
  const dB = grads.dBalanceLoss ?? 0;
  if (!Number.isFinite(dB)) throw new RouterError('argument', op, `dBalanceLoss must be finite, got ${dB}`);

  const w = fwd.balanceLossWeight;
  const balanceOn = fwd.useBalance && dB !== 0;
  const gImp = balanceOn ? cvSquaredBackward(fwd.importance, dB * w) : null;
  const gLoad = balanceOn && im.smoothLoad ? cvSquaredBackward(fwd.load, dB * w) : null;

  /** [T, E] dL/d noisy logits */ const dNoisy = new Float64Array(T * E);
  /** [T, E] dL/dH through the Φ arguments directly */ const dH = new Float64Array(T * E);
  /** [T, E] */ const dStd = im.noiseStd ? new Float64Array(T * E) : null;
  /** [k] scratch for one token's score gradients */ const g = new Float64Array(k);

  for (let t = 0; t < T; t++) {
    const sb = t * k;
    for (let j = 0; j < k; j++) {
      let v = dScores ? dScores[sb + j]! : 0;
      if (gImp) v += gImp[fwd.topkIndices[sb + j]!]!;
      g[j] = v;
    }
    if (fwd.useSoftmax) {
      let dot = 0;
      for (let j = 0; j < k; j++) dot += fwd.topkScores[sb + j]! * g[j]!;
      for (let j = 0; j < k; j++) dNoisy[t * E + fwd.topkIndices[sb + j]!]! += fwd.topkScores[sb + j]! * (g[j]! - dot);
    } else {
      for (let j = 0; j < k; j++) dNoisy[t * E + fwd.topkIndices[sb + j]!]! += g[j]!;
    }
  }

  if (gLoad && im.z && im.isIn && im.noiseStd && dStd) {
    for (let t = 0; t < T; t++) {
      let dThrIn = 0;
      let dThrOut = 0;
      for (let e = 0; e < E; e++) {
        const i = t * E + e;
        const zi = im.z[i]!;
        const s = im.noiseStd[i]!;
        const dz = gLoad[e]! * normalPdf(zi);
        dH[i]! += dz / s;
        dStd[i]! -= (dz * zi) / s;
        if (im.isIn[i]) dThrIn -= dz / s;
        else dThrOut -= dz / s;
      }
      dNoisy[t * E + im.topIndices[t * m + k]!]! += dThrIn;
      dNoisy[t * E + im.topIndices[t * m + k - 1]!]! += dThrOut;
    }
  }

  const dLogits = allocLike(im.logits, T * E);
  for (let i = 0; i < T * E; i++) dLogits[i] = dH[i]! + dNoisy[i]!;
  let dNoiseStd: A | null = null;
  if (im.noiseStd && im.eps && dStd) {
    dNoiseStd = allocLike(im.logits, T * E);
    for (let i = 0; i < T * E; i++) dNoiseStd[i] = dStd[i]! + dNoisy[i]! * im.eps[i]!;
  }
  return { dLogits, dNoiseStd };
}
