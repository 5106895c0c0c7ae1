/**
 * Trainable gate modules on tensor-core autograd (the `@llama-moe/router/modules` entry point;
 * the package root stays free of tensor-core). The routing math has one implementation, the
 * dependency-free core of the package root: a module keeps its gate network (and noise network)
 * as differentiable tensor-core ops, then hands the logits to the core gate function and records
 * its outputs (scores, balance loss, z-loss) as coarse tape ops whose backward is the core's
 * analytic backward. Gradients reach the gate network through the scores and the balance loss
 * exactly as in PyTorch. Parameter names follow the checkpoints verbatim:
 *   LLaMA-MoE: gate.gate_network.0.weight, gate.gate_network.2.weight (mlp) or gate.gate_network.weight (linear), gate.weight_noise.weight
 *   Mixtral:   gate.weight
 */
import { Tensor, add, addScalar, linear, mul, record, scale, softplus, tanh, zeros, type Rng } from '@llama-moe/tensor-core';
import { normalCdf, normalPdf, softmaxRows } from '../math.js';
import { expertChoiceBackward, expertChoiceGate } from '../gates/expert-choice.js';
import { mixtralGate, mixtralGateBackward } from '../gates/mixtral.js';
import { noisyTopKBackward, noisyTopKGate, type NoisyTopKGrads } from '../gates/noisy-topk.js';
import { switchGateBackward, switchRoute } from '../gates/switch.js';
import type { DispatchPlan } from '../dispatch.js';
import { cvSquared, cvSquaredBackward, routerZLoss, routerZLossBackward } from '../losses.js';

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

/** cv²(x) = var(x) / (mean(x)² + 1e-10) with the unbiased variance (torch.var), 0 for one element: the core's cvSquared as one tape op. */
export function cvSquaredOp(x: Tensor): Tensor {
  if (x.size <= 1) return new Tensor(new Float32Array([0]), []);
  const xd = x.f32('cvSquared');
  return record(new Tensor(new Float32Array([cvSquared(xd)]), []), 'cvSquared', [x], (g) => [Float32Array.from(cvSquaredBackward(xd, g[0]!))]);
}

function countsPerExpert(idx: Int32Array, E: number): Float64Array {
  const c = new Float64Array(E);
  for (let i = 0; i < idx.length; i++) c[idx[i]!]! += 1;
  return c;
}

/** [T, E] routing probabilities for statistics: the core's row softmax. */
function rowSoftmax(op: string, logits: Float32Array, T: number, E: number): Float32Array {
  const p = new Float32Array(T * E);
  softmaxRows(op, logits, T, E, p);
  return p;
}

function allFinite(...bufs: Float32Array[]): boolean {
  for (const b of bufs) for (let i = 0; i < b.length; i++) if (!Number.isFinite(b[i]!)) return false;
  return true;
}

/** A scalar tensor holding `v`, recorded over `inputs` with `backward`. */
function scalarOp(v: number, op: string, inputs: Tensor[], backward: (g: number) => (Float32Array | null)[]): Tensor {
  return record(new Tensor(new Float32Array([v]), []), op, inputs, (g) => backward(g[0]!));
}

/**
 * Gate logits with a NaN or an infinity (a diverged run): the routing core rejects them, so the
 * gate routes token t to experts 0..k−1 with NaN scores and a NaN aux loss (and NaN gradients),
 * and the loss comes out NaN for the trainer's non-finite guard to name the step.
 */
function nonFiniteOutput(op: string, inputs: Tensor[], T: number, E: number, k: number, withAux: boolean): GateOutput {
  const idx = new Int32Array(T * k);
  for (let t = 0; t < T; t++) for (let j = 0; j < k; j++) idx[t * k + j] = j;
  const nanGrads = () => inputs.map((x) => new Float32Array(x.size).fill(NaN));
  return {
    topkIndices: idx,
    scores: record(new Tensor(new Float32Array(T * k).fill(NaN), [T, k]), op, inputs, nanGrads),
    auxLoss: withAux ? scalarOp(NaN, op, inputs, nanGrads) : null,
    importance: new Float64Array(E).fill(NaN),
    load: countsPerExpert(idx, E),
    probs: new Float32Array(T * E).fill(NaN),
  };
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
    let noiseStd: Tensor | null = null;
    let eps: Float32Array | null = null;
    if (ctx.training && this.cfg.addNoise) {
      noiseStd = addScalar(softplus(linear(x, this.weightNoise)), this.cfg.noiseEpsilon);
      eps = new Float32Array(T * E);
      for (let i = 0; i < eps.length; i++) eps[i] = ctx.rng.normal();
    }
    const inputs = noiseStd ? [clean, noiseStd] : [clean];
    const cl = clean.f32();
    if (!allFinite(cl, ...(noiseStd ? [noiseStd.f32()] : []))) return nonFiniteOutput('noisyTopKGate', inputs, T, E, k, this.cfg.useBalance);
    // Routing, scores, importance, (smooth) load and the balance loss: the core's noisyTopKGate.
    const r = noisyTopKGate(cl, E, {
      num_selects: k,
      use_softmax: this.cfg.useSoftmax,
      use_balance: this.cfg.useBalance,
      balance_loss_weight: this.cfg.balanceLossWeight,
      noise: noiseStd ? { noise_std: noiseStd.f32(), eps: eps! } : null,
      reference_is_in_quirk: this.cfg.referenceIsInQuirk,
    });
    const back = (grads: NoisyTopKGrads): (Float32Array | null)[] => {
      const b = noisyTopKBackward(r, grads);
      return noiseStd ? [b.dLogits, b.dNoiseStd] : [b.dLogits];
    };
    const scores = record(new Tensor(r.topkScores, [T, k]), 'noisyTopKScores', inputs, (g) => back({ dTopkScores: g }));
    const balance = this.cfg.useBalance ? scalarOp(r.balanceLoss, 'noisyTopKBalanceLoss', inputs, (g) => back({ dBalanceLoss: g })) : null;
    return {
      topkIndices: r.topkIndices,
      scores,
      auxLoss: withZLoss(balance, clean, this.cfg.zLossCoef, ctx.training),
      importance: r.importance,
      load: r.load,
      probs: rowSoftmax('noisyTopKGate', cl, T, E),
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
    const l = logits.f32();
    const withAux = ctx.training && (this.cfg.routerAuxLossCoef > 0 || this.cfg.zLossCoef > 0);
    if (!allFinite(l)) return nonFiniteOutput('mixtralGate', [logits], T, E, k, withAux);
    // Softmax, top-k, renormalise and the transformers load-balancing loss: the core's mixtralGate.
    const r = mixtralGate(l, E, { num_experts_per_tok: k, norm_topk_prob: this.cfg.normTopkProb, router_aux_loss_coef: this.cfg.routerAuxLossCoef });
    const scores = record(new Tensor(r.topkScores, [T, k]), 'mixtralScores', [logits], (g) => [mixtralGateBackward(r, { dTopkScores: g })]);
    let auxLoss: Tensor | null = null;
    if (ctx.training && this.cfg.routerAuxLossCoef > 0) {
      auxLoss = scalarOp(r.balanceLoss, 'mixtralAuxLoss', [logits], (g) => [mixtralGateBackward(r, { dBalanceLoss: g })]);
    }
    if (ctx.training && this.cfg.zLossCoef > 0) {
      const z = zLossOp(logits);
      const zl = scale(z, this.cfg.zLossCoef);
      auxLoss = auxLoss ? add(auxLoss, zl) : zl;
    }
    const importance = new Float64Array(E);
    for (let i = 0; i < r.topkIndices.length; i++) importance[r.topkIndices[i]!]! += r.topkScores[i]!;
    return { topkIndices: r.topkIndices, scores, auxLoss, importance, load: countsPerExpert(r.topkIndices, E), probs: r.probs };
  }
}

/** mean_t (logsumexp(logits_t))² (ST-MoE router z-loss): the core's routerZLoss as one tape op (NaN for non-finite logits). */
export function zLossOp(logits: Tensor): Tensor {
  const E = logits.shape[1]!;
  const l = logits.f32();
  if (!allFinite(l)) return scalarOp(NaN, 'routerZLoss', [logits], () => [new Float32Array(l.length).fill(NaN)]);
  const fwd = routerZLoss(l, E, 1);
  return scalarOp(fwd.zLoss, 'routerZLoss', [logits], (g) => [routerZLossBackward(l, E, fwd, 1, g)]);
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
    const l = logits.f32();
    let noise: Float64Array | null = null;
    if (ctx.training && this.cfg.addNoise) {
      // Gumbel selection noise, one draw per (token, expert) in row-major order.
      noise = new Float64Array(T * E);
      for (let i = 0; i < noise.length; i++) noise[i] = -Math.log(-Math.log(Math.max(ctx.rng.uniform(), 1e-20)));
    }
    if (!allFinite(l)) return nonFiniteOutput('switchGate', [logits], T, E, 1, this.cfg.useBalance || (ctx.training && this.cfg.zLossCoef > 0));
    // Top-1 of logits + noise, the raw logit as score, and the switch loss: the core's switchRoute.
    const r = switchRoute(l, E, { use_balance: this.cfg.useBalance, balance_loss_weight: this.cfg.balanceLossWeight, noise, score: 'logit' });
    const scores = record(new Tensor(r.topkScores, [T, 1]), 'switchScores', [logits], (g) => [switchGateBackward(r, { dTopkScores: g })]);
    const balance = this.cfg.useBalance ? scalarOp(r.balanceLoss, 'switchBalanceLoss', [logits], (g) => [switchGateBackward(r, { dBalanceLoss: g })]) : null;
    return {
      topkIndices: r.topkIndices, scores, auxLoss: withZLoss(balance, logits, this.cfg.zLossCoef, ctx.training),
      importance: r.meanProb, load: Float64Array.from(r.tokensPerExpert), probs: r.probs,
    };
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
    const ec = expertChoiceGate(logits.f32(), E, { capacity_factor: this.cfg.capacityFactor });
    const C = ec.capacity;
    /** [E·C] combine weight of each choice (its probability), differentiable through the core's expertChoiceBackward */
    const scores = record(new Tensor(Float32Array.from(ec.weights), [E * C]), 'expertChoiceWeights', [logits], (g) => [expertChoiceBackward(ec, g)]);
    const importance = new Float64Array(E);
    for (let i = 0; i < E * C; i++) importance[Math.floor(i / C)]! += ec.weights[i]!;
    return {
      topkIndices: new Int32Array(0), scores, auxLoss: withZLoss(null, logits, this.cfg.zLossCoef, ctx.training), importance,
      load: Float64Array.from(ec.plan.counts.subarray(0, E)), probs: ec.probs, plan: ec.plan, unrouted: ec.tokensWithoutExpert,
    };
  }
}
