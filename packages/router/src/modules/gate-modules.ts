/**
 * Trainable gate modules on tensor-core autograd (the `@llama-moe/router/modules` entry point;
 * the package root stays free of tensor-core). Each gate is composed of differentiable ops, so
 * gradients reach the gate network (and the noise network) through the scores and the balance
 * loss exactly as in PyTorch; the dependency-free routing functions of the package root serve as
 * the oracle in tests. Parameter names follow the checkpoints verbatim:
 *   LLaMA-MoE: gate.gate_network.0.weight, gate.gate_network.2.weight (mlp) or gate.gate_network.weight (linear), gate.weight_noise.weight
 *   Mixtral:   gate.weight
 */
import {
  Tensor, add, addScalar, div, gatherLast, indexAdd, indexSelect, indices, linear, mean, mul, record, reshape, scale, softmax, softplus, sub, sum, tanh, topk, zeros,
  type Rng,
} from '@llama-moe/tensor-core';
import { normalCdf, normalPdf } from '../math.js';
import { expertChoiceGate } from '../gates/expert-choice.js';
import type { DispatchPlan } from '../dispatch.js';
import { CV_SQUARED_EPS } from '../losses.js';

export interface GateContext {
  training: boolean;
  /** Source of ε ~ N(0, 1) for noisy gates (and jitter). */
  rng: Rng;
}

export interface GateOutput {
  /** [T, k] chosen experts, descending score, ties to the lower index. */
  topkIndices: Int32Array;
  /** [T, k] combine weights (differentiable). */
  scores: Tensor;
  /** Scalar auxiliary loss (already weighted), or null. */
  auxLoss: Tensor | null;
  /** [E] Σ scores per expert. */
  importance: Float64Array;
  /** [E] load (smooth estimate when noisy, token counts otherwise). */
  load: Float64Array;
  /** [T, E] routing probabilities for statistics (softmax of the clean logits). */
  probs: Float32Array;
  /**
   * A dispatch plan the gate built itself (expert-choice routing): its slotSelection indexes
   * `scores` (then [E·C]); topkIndices is empty. Absent for token-choice gates.
   */
  plan?: DispatchPlan<Float32Array>;
  /** Tokens no expert processes (expert choice: chosen by none). */
  unrouted?: number;
}

export interface GateModule {
  readonly numExperts: number;
  readonly topK: number;
  forward(x: Tensor, ctx: GateContext): GateOutput;
  /** Names relative to the MoE block (`gate.…`). */
  namedParameters(): [string, Tensor][];
  /** Weights a token is multiplied by in training (model-FLOPs counts); all parameters when absent. */
  activeParamsPerToken?(): number;
}

/** Φ applied elementwise, with dΦ/dx = φ. */
export function normalCdfOp(x: Tensor): Tensor {
  const xd = x.f32('normalCdf');
  const out = new Float32Array(xd.length);
  for (let i = 0; i < out.length; i++) out[i] = normalCdf(xd[i]!);
  return record(new Tensor(out, x.shape), 'normalCdf', [x], (g) => {
    const gx = new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) gx[i] = g[i]! * normalPdf(xd[i]!);
    return [gx];
  });
}

/** cv²(x) = var(x) / (mean(x)² + 1e-10) with the unbiased variance (torch.var), 0 for one element. */
export function cvSquaredOp(x: Tensor): Tensor {
  const n = x.size;
  if (n <= 1) return new Tensor(new Float32Array([0]), []);
  const m = mean(x);
  const d = sub(x, m);
  const variance = scale(sum(mul(d, d)), 1 / (n - 1));
  return div(variance, addScalar(mul(m, m), CV_SQUARED_EPS));
}

function countsPerExpert(idx: Int32Array, E: number): Float64Array {
  const c = new Float64Array(E);
  for (let i = 0; i < idx.length; i++) c[idx[i]!]! += 1;
  return c;
}

function rowSoftmax(logits: Float32Array, T: number, E: number): Float32Array {
  const p = new Float32Array(T * E);
  for (let t = 0; t < T; t++) {
    let mx = -Infinity;
    for (let e = 0; e < E; e++) mx = Math.max(mx, logits[t * E + e]!);
    let z = 0;
    for (let e = 0; e < E; e++) { const v = Math.exp(logits[t * E + e]! - mx); p[t * E + e] = v; z += v; }
    for (let e = 0; e < E; e++) p[t * E + e]! /= z;
  }
  return p;
}

export interface NoisyTopKGateConfig {
  hiddenSize: number;
  numExperts: number;
  /** k (LLaMA-MoE num_selects). */
  numSelects: number;
  /** 'mlp' (Linear(D,E) → tanh → Linear(E,E)) or 'linear'. */
  gateNetwork: 'mlp' | 'linear';
  useSoftmax?: boolean;
  useBalance?: boolean;
  balanceLossWeight?: number;
  addNoise?: boolean;
  noiseEpsilon?: number;
  /** Reproduce the reference's is_in comparison of the noise term (see the package docs). */
  referenceIsInQuirk?: boolean;
  /** ST-MoE router z-loss on the clean gate logits, added to the balance loss in training (0 = off). */
  zLossCoef?: number;
}

/** balance + coef · z-loss(logits) when training with coef > 0 (the z-loss keeps the gate's logits small). */
function withZLoss(aux: Tensor | null, logits: Tensor, coef: number, training: boolean): Tensor | null {
  if (!(training && coef > 0)) return aux;
  const z = scale(zLossOp(logits), coef);
  return aux ? add(aux, z) : z;
}

/** LLaMA-MoE's TopKBalancedNoisyGate. */
export class NoisyTopKGate implements GateModule {
  readonly numExperts: number;
  readonly topK: number;
  readonly cfg: Required<NoisyTopKGateConfig>;
  /** mlp: [W0 [E, D], W2 [E, E]]; linear: [W [E, D]] */
  network: Tensor[];
  /** [E, D], zero-initialised as in the reference */
  weightNoise: Tensor;

  constructor(cfg: NoisyTopKGateConfig, network: Tensor[], weightNoise?: Tensor) {
    this.cfg = { useSoftmax: true, useBalance: true, balanceLossWeight: 0.01, addNoise: true, noiseEpsilon: 0.01, referenceIsInQuirk: false, zLossCoef: 0, ...cfg };
    this.numExperts = cfg.numExperts;
    this.topK = cfg.numSelects;
    if (!(this.topK >= 1 && this.topK <= this.numExperts)) throw new RangeError(`NoisyTopKGate: num_selects ${this.topK} must be in [1, num_experts ${this.numExperts}]`);
    const E = cfg.numExperts, D = cfg.hiddenSize;
    const want = cfg.gateNetwork === 'mlp' ? [[E, D], [E, E]] : [[E, D]];
    if (network.length !== want.length || network.some((t, i) => t.shape[0] !== want[i]![0] || t.shape[1] !== want[i]![1])) {
      throw new RangeError(`NoisyTopKGate: gate_network '${cfg.gateNetwork}' needs weights ${want.map((s) => `[${s.join(', ')}]`).join(' and ')}, got ${network.map((t) => `[${t.shape.join(', ')}]`).join(' and ')}`);
    }
    this.network = network;
    this.weightNoise = weightNoise ?? zeros([E, D]);
  }

  namedParameters(): [string, Tensor][] {
    const net: [string, Tensor][] = this.cfg.gateNetwork === 'mlp'
      ? [['gate.gate_network.0.weight', this.network[0]!], ['gate.gate_network.2.weight', this.network[1]!]]
      : [['gate.gate_network.weight', this.network[0]!]];
    return [...net, ['gate.weight_noise.weight', this.weightNoise]];
  }

  /** The gate network, plus the noise network when noise is on (it runs on every training token). */
  activeParamsPerToken(): number {
    return this.network.reduce((s, t) => s + t.size, 0) + (this.cfg.addNoise ? this.weightNoise.size : 0);
  }

  logits(x: Tensor): Tensor {
    return this.cfg.gateNetwork === 'mlp' ? linear(tanh(linear(x, this.network[0]!)), this.network[1]!) : linear(x, this.network[0]!);
  }

  forward(x: Tensor, ctx: GateContext): GateOutput {
    const { numExperts: E, topK: k } = this;
    const T = x.shape[0]!;
    const clean = this.logits(x);
    const noisy = ctx.training && this.cfg.addNoise;
    let logits = clean;
    let noiseStd: Tensor | null = null;
    let noiseTerm: Float32Array | null = null;
    if (noisy) {
      noiseStd = addScalar(softplus(linear(x, this.weightNoise)), this.cfg.noiseEpsilon);
      const eps = new Float32Array(T * E);
      for (let i = 0; i < eps.length; i++) eps[i] = ctx.rng.normal();
      const noise = mul(new Tensor(eps, [T, E]), noiseStd);
      noiseTerm = noise.f32();
      logits = add(clean, noise);
    }
    const m = Math.min(k + 1, E);
    const top = topk(logits, m);
    const topIdx = top.indices.i32();
    const kIdx = new Int32Array(T * k);
    for (let t = 0; t < T; t++) for (let j = 0; j < k; j++) kIdx[t * k + j] = topIdx[t * m + j]!;
    const kVals = m === k ? top.values : gatherLast(logits, indices(kIdx, [T, k]));
    const scores = this.cfg.useSoftmax ? softmax(kVals) : kVals;
    // importance_e = Σ_t scores scattered to their experts
    const importanceT = reshape(indexAdd(E, indices(kIdx), reshape(scores, [T * k, 1])), [E]);
    let loadT: Tensor;
    if (noisy && k < E) {
      // Shazeer's smooth load: P(e stays in the top-k under resampled noise).
      const thrInIdx = new Int32Array(T), thrOutIdx = new Int32Array(T);
      for (let t = 0; t < T; t++) { thrInIdx[t] = topIdx[t * m + k]!; thrOutIdx[t] = topIdx[t * m + k - 1]!; }
      const thrIn = gatherLast(logits, indices(thrInIdx, [T, 1]));
      const thrOut = gatherLast(logits, indices(thrOutIdx, [T, 1]));
      const nd = logits.f32(), ti = thrIn.f32();
      const isIn = new Float32Array(T * E), isOut = new Float32Array(T * E);
      for (let t = 0; t < T; t++) for (let e = 0; e < E; e++) {
        const v = this.cfg.referenceIsInQuirk ? noiseTerm![t * E + e]! : nd[t * E + e]!;
        const inside = v > ti[t]! ? 1 : 0;
        isIn[t * E + e] = inside;
        isOut[t * E + e] = 1 - inside;
      }
      const pIn = normalCdfOp(div(sub(clean, thrIn), noiseStd!));
      const pOut = normalCdfOp(div(sub(clean, thrOut), noiseStd!));
      const prob = add(mul(pIn, new Tensor(isIn, [T, E])), mul(pOut, new Tensor(isOut, [T, E])));
      loadT = sum(prob, 0);
    } else {
      loadT = new Tensor(Float32Array.from(countsPerExpert(kIdx, E)), [E]);
    }
    const auxLoss = withZLoss(this.cfg.useBalance ? scale(add(cvSquaredOp(importanceT), cvSquaredOp(loadT)), this.cfg.balanceLossWeight) : null, clean, this.cfg.zLossCoef, ctx.training);
    return {
      topkIndices: kIdx,
      scores,
      auxLoss,
      importance: Float64Array.from(importanceT.f32()),
      load: Float64Array.from(loadT.f32()),
      probs: rowSoftmax(clean.f32(), T, E),
    };
  }
}

export interface MixtralGateConfig {
  hiddenSize: number;
  numExperts: number;
  /** num_experts_per_tok */
  topK: number;
  /** router_aux_loss_coef (Mixtral configs: 0.02; transformers default 0.001). */
  routerAuxLossCoef?: number;
  /** Renormalise the k chosen probabilities (Mixtral: true). */
  normTopkProb?: boolean;
  /** router_jitter_noise: multiply inputs by U(1−j, 1+j) in training. */
  jitterNoise?: number;
  /** ST-MoE router z-loss coefficient (0 = off). */
  zLossCoef?: number;
}

/** Mixtral's router: softmax over all experts, top-k, renormalise; load-balancing aux loss. */
export class MixtralGate implements GateModule {
  readonly numExperts: number;
  readonly topK: number;
  readonly cfg: Required<MixtralGateConfig>;
  constructor(cfg: MixtralGateConfig, /** [E, D] */ public weight: Tensor) {
    this.cfg = { routerAuxLossCoef: 0.001, normTopkProb: true, jitterNoise: 0, zLossCoef: 0, ...cfg };
    this.numExperts = cfg.numExperts;
    this.topK = cfg.topK;
    if (!(this.topK >= 1 && this.topK <= this.numExperts)) throw new RangeError(`MixtralGate: num_experts_per_tok ${this.topK} must be in [1, num_local_experts ${this.numExperts}]`);
    if (weight.shape[0] !== cfg.numExperts || weight.shape[1] !== cfg.hiddenSize) throw new RangeError(`MixtralGate: gate.weight must be [${cfg.numExperts}, ${cfg.hiddenSize}], got [${weight.shape.join(', ')}]`);
  }
  namedParameters(): [string, Tensor][] {
    return [['gate.weight', this.weight]];
  }
  forward(x: Tensor, ctx: GateContext): GateOutput {
    const E = this.numExperts, k = this.topK, T = x.shape[0]!;
    let xin = x;
    if (ctx.training && this.cfg.jitterNoise > 0) {
      const j = this.cfg.jitterNoise;
      const mult = new Float32Array(x.size);
      for (let i = 0; i < mult.length; i++) mult[i] = 1 - j + 2 * j * ctx.rng.uniform();
      xin = mul(x, new Tensor(mult, x.shape));
    }
    const logits = linear(xin, this.weight);
    const probs = softmax(logits);
    const top = topk(probs, k);
    const scores = this.cfg.normTopkProb ? div(top.values, sum(top.values, -1, true)) : top.values;
    const idx = top.indices.i32();
    let auxLoss: Tensor | null = null;
    if (ctx.training && this.cfg.routerAuxLossCoef > 0) {
      // transformers load_balancing_loss_func: E · Σ_e f_e · P_e with f_e = (selections of e)/(T) summed over the k slots, P_e = mean_t probs.
      const f = countsPerExpert(idx, E);
      const fT = new Tensor(Float32Array.from(f, (c) => c / T), [E]);
      auxLoss = scale(sum(mul(mean(probs, 0), fT)), E * this.cfg.routerAuxLossCoef);
    }
    if (ctx.training && this.cfg.zLossCoef > 0) {
      const z = zLossOp(logits);
      const zl = scale(z, this.cfg.zLossCoef);
      auxLoss = auxLoss ? add(auxLoss, zl) : zl;
    }
    const importance = new Float64Array(E);
    const sd = scores.f32();
    for (let i = 0; i < idx.length; i++) importance[idx[i]!]! += sd[i]!;
    return { topkIndices: Int32Array.from(idx), scores, auxLoss, importance, load: countsPerExpert(idx, E), probs: Float32Array.from(probs.f32()) };
  }
}

/** mean_t (logsumexp(logits_t))² (ST-MoE router z-loss), differentiable. */
export function zLossOp(logits: Tensor): Tensor {
  const [T, E] = logits.shape as [number, number];
  const l = logits.f32();
  const lse = new Float32Array(T);
  for (let t = 0; t < T; t++) {
    let mx = -Infinity;
    for (let e = 0; e < E; e++) mx = Math.max(mx, l[t * E + e]!);
    let z = 0;
    for (let e = 0; e < E; e++) z += Math.exp(l[t * E + e]! - mx);
    lse[t] = mx + Math.log(z);
  }
  let s = 0;
  for (let t = 0; t < T; t++) s += lse[t]! * lse[t]!;
  return record(new Tensor(new Float32Array([s / T]), []), 'routerZLoss', [logits], (g) => {
    const gx = new Float32Array(T * E);
    for (let t = 0; t < T; t++) for (let e = 0; e < E; e++) gx[t * E + e] = (g[0]! * 2 * lse[t]! * Math.exp(l[t * E + e]! - lse[t]!)) / T;
    return [gx];
  });
}

export interface SwitchGateConfig {
  hiddenSize: number;
  numExperts: number;
  gateNetwork: 'mlp' | 'linear';
  balanceLossWeight?: number;
  /** Gumbel noise on the logits in training (the reference's add_noise). */
  addNoise?: boolean;
  useBalance?: boolean;
  /** ST-MoE router z-loss coefficient (0 = off). */
  zLossCoef?: number;
}

/** LLaMA-MoE's SwitchBalancedGate: top-1; its score is the raw top-1 logit as in the reference. */
export class SwitchGate implements GateModule {
  readonly numExperts: number;
  readonly topK = 1;
  readonly cfg: Required<SwitchGateConfig>;
  constructor(cfg: SwitchGateConfig, public network: Tensor[]) {
    this.cfg = { balanceLossWeight: 0.01, addNoise: true, useBalance: true, zLossCoef: 0, ...cfg };
    this.numExperts = cfg.numExperts;
  }
  namedParameters(): [string, Tensor][] {
    return this.cfg.gateNetwork === 'mlp'
      ? [['gate.gate_network.0.weight', this.network[0]!], ['gate.gate_network.2.weight', this.network[1]!]]
      : [['gate.gate_network.weight', this.network[0]!]];
  }
  forward(x: Tensor, ctx: GateContext): GateOutput {
    const E = this.numExperts, T = x.shape[0]!;
    const logits = this.cfg.gateNetwork === 'mlp' ? linear(tanh(linear(x, this.network[0]!)), this.network[1]!) : linear(x, this.network[0]!);
    const probs = softmax(logits);
    const l = logits.f32();
    const idx = new Int32Array(T);
    for (let t = 0; t < T; t++) {
      let best = 0, bv = -Infinity;
      for (let e = 0; e < E; e++) {
        let v = l[t * E + e]!;
        if (ctx.training && this.cfg.addNoise) v += -Math.log(-Math.log(Math.max(ctx.rng.uniform(), 1e-20)));
        if (v > bv) { bv = v; best = e; }
      }
      idx[t] = best;
    }
    const scores = gatherLast(logits, indices(idx, [T, 1]));
    const counts = countsPerExpert(idx, E);
    const auxLoss = withZLoss(this.cfg.useBalance
      ? scale(sum(mul(mean(probs, 0), new Tensor(Float32Array.from(counts, (c) => c / T), [E]))), E * this.cfg.balanceLossWeight)
      : null, logits, this.cfg.zLossCoef, ctx.training);
    const importance = new Float64Array(E);
    const pm = probs.f32();
    for (let t = 0; t < T; t++) for (let e = 0; e < E; e++) importance[e]! += pm[t * E + e]! / T;
    return { topkIndices: idx, scores, auxLoss, importance, load: counts, probs: Float32Array.from(pm) };
  }
}

export interface ExpertChoiceGateConfig {
  hiddenSize: number;
  numExperts: number;
  gateNetwork: 'mlp' | 'linear';
  /** Each expert takes C = max(1, floor(capacity_factor · T / E)) tokens: on average capacity_factor experts per token. */
  capacityFactor: number;
  /** ST-MoE router z-loss coefficient (0 = off). Expert choice is balanced by construction: there is no balance loss. */
  zLossCoef?: number;
}

/**
 * Expert-choice routing (Zhou et al. 2022) as a trainable gate: softmax over experts per token,
 * each expert takes its top-C tokens; the combine weight of a choice is its probability
 * (differentiable, picked from the [T, E] softmax). Same gate network and parameter names as the
 * LLaMA-MoE gates. topK reports the average experts per token (the capacity factor, rounded).
 */
export class ExpertChoiceGate implements GateModule {
  readonly numExperts: number;
  readonly topK: number;
  readonly cfg: Required<ExpertChoiceGateConfig>;
  constructor(cfg: ExpertChoiceGateConfig, public network: Tensor[]) {
    this.cfg = { zLossCoef: 0, ...cfg };
    if (!(cfg.capacityFactor > 0)) throw new RangeError(`ExpertChoiceGate: capacity_factor must be > 0, got ${cfg.capacityFactor}`);
    this.numExperts = cfg.numExperts;
    this.topK = Math.max(1, Math.min(cfg.numExperts, Math.round(cfg.capacityFactor)));
  }
  namedParameters(): [string, Tensor][] {
    return this.cfg.gateNetwork === 'mlp'
      ? [['gate.gate_network.0.weight', this.network[0]!], ['gate.gate_network.2.weight', this.network[1]!]]
      : [['gate.gate_network.weight', this.network[0]!]];
  }
  forward(x: Tensor, ctx: GateContext): GateOutput {
    const E = this.numExperts, T = x.shape[0]!;
    const logits = this.cfg.gateNetwork === 'mlp' ? linear(tanh(linear(x, this.network[0]!)), this.network[1]!) : linear(x, this.network[0]!);
    const probs = softmax(logits);
    const ec = expertChoiceGate(logits.f32(), E, { capacity_factor: this.cfg.capacityFactor });
    const C = ec.capacity;
    const flat = new Int32Array(E * C);
    for (let i = 0; i < E * C; i++) flat[i] = ec.tokenIndices[i]! * E + Math.floor(i / C);
    /** [E·C] combine weight of each choice, differentiable */
    const scores = reshape(indexSelect(reshape(probs, [T * E, 1]), indices(flat)), [E * C]);
    const importance = new Float64Array(E);
    for (let i = 0; i < E * C; i++) importance[Math.floor(i / C)]! += ec.weights[i]!;
    return {
      topkIndices: new Int32Array(0), scores, auxLoss: withZLoss(null, logits, this.cfg.zLossCoef, ctx.training), importance,
      load: Float64Array.from(ec.plan.counts.subarray(0, E)), probs: Float32Array.from(probs.f32()), plan: ec.plan, unrouted: ec.tokensWithoutExpert,
    };
  }
}
