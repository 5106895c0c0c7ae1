/**
 * MoE models as LlamaForCausalLM with MoeFeedForward in every layer: construction from a dense
 * model and a neuron partition, saving in the LLaMA-MoE or Mixtral format, loading either format
 * back, and merging experts back into a dense FFN.
 */
import { Tensor, createRng, noGrad, runKernel, scale, type Rng } from '@llama-moe/tensor-core';
import {
  DenseFeedForward, LlamaForCausalLM, loadLlamaFrom, parseLlamaConfig, pyJsonDumps, readParam,
  type ReadableCheckpoint, type LlamaConfig, type SaveDType,
} from '@llama-moe/llama-model';
import { ExpertChoiceGate, MixtralGate, NoisyTopKGate, SwitchGate, type GateModule } from '@llama-moe/router/modules';
import { llamaMoeConfigJson, llamaMoeNames } from '../formats/llama-moe.js';
import { FormatError, mixtralConfigJson, mixtralIncompatibility, mixtralNames } from '../formats/mixtral.js';
import { defaultMoeSpec, scoreScaleAt, type MoeSpec } from '../formats/moe-spec.js';
import { MoeFeedForward, type ExpertOrigin, type ExpertWeights } from '@llama-moe/router/modules';
import { mixSeed } from '../partition/seed.js';

export type MoeFormat = 'llama-moe' | 'mixtral';
/**
 * random: N(0, 0.02) (the paper); zeros; the rest are computed from calibration data (router-fit.ts):
 * centroids, kmeans, representative, ridge.
 */
export type GateInit = 'random' | 'zeros' | 'centroids' | 'kmeans' | 'representative' | 'ridge';
export const GATE_INITS: readonly GateInit[] = ['random', 'zeros', 'centroids', 'kmeans', 'representative', 'ridge'];
/** Gate inits whose rows come from calibration data. */
export function isDataGateInit(init: GateInit): boolean {
  return init !== 'random' && init !== 'zeros';
}

type Elements = Float32Array | Uint16Array;

/** Rows `idx` of a row-major [R, C] matrix → [idx.length, C] (f32, or raw f16/bf16 bits). */
export function takeRows<A extends Elements>(src: A, C: number, idx: ArrayLike<number>, into?: A): A {
  const out = into ?? new (src.constructor as new (n: number) => A)(idx.length * C);
  for (let i = 0; i < idx.length; i++) out.set(src.subarray(idx[i]! * C, idx[i]! * C + C), i * C);
  return out;
}

/** Columns `idx` of a row-major [R, C] matrix → [R, idx.length] (f32, or raw f16/bf16 bits). */
export function takeCols<A extends Elements>(src: A, R: number, C: number, idx: ArrayLike<number>, into?: A): A {
  const n = idx.length;
  const out = into ?? new (src.constructor as new (n: number) => A)(R * n);
  for (let r = 0; r < R; r++) {
    const o = r * C;
    const w = r * n;
    for (let i = 0; i < n; i++) out[w + i] = src[o + idx[i]!]!;
  }
  return out;
}

/**
 * Columns `parts[j]` of a row-major [R, C] matrix → one [R, parts[j].length] matrix per part, in a
 * single pass over the source: each source row (C elements) is read once while it sits in L1 and
 * scattered to every part. Calling takeCols per part instead streams the whole matrix once per
 * part (a random column subset touches nearly every cache line of every row). Runs tensor-core's
 * registered `takeCols` kernel on the active backend chain (WebAssembly where the wasm backend is
 * initialised, ~4x the JavaScript loop; the cpu oracle otherwise; both bit-identical).
 */
export function takeColsMany<A extends Elements>(src: A, R: number, C: number, parts: readonly ArrayLike<number>[], into?: readonly A[]): A[] {
  const outs = parts.map((idx, j) => into?.[j] ?? new (src.constructor as new (n: number) => A)(R * idx.length));
  runKernel('takeCols', { src, rows: R, cols: C, parts, outs });
  return outs;
}

/** takeColsMany in plain JavaScript. */
export function takeColsManyJs<A extends Elements>(src: A, R: number, C: number, parts: readonly ArrayLike<number>[], into?: readonly A[]): A[] {
  const outs = parts.map((idx, j) => into?.[j] ?? new (src.constructor as new (n: number) => A)(R * idx.length));
  const idxs = parts.map((idx) => Int32Array.from(idx));
  for (let r = 0; r < R; r++) {
    const o = r * C;
    for (let j = 0; j < idxs.length; j++) {
      const idx = idxs[j]!;
      const out = outs[j]!;
      const n = idx.length;
      const w = r * n;
      for (let i = 0; i < n; i++) out[w + i] = src[o + idx[i]!]!;
    }
  }
  return outs;
}

/** The experts of one dense FFN for a partition (rows of gate/up, columns of down). */
export function expertsFromDense(gate: Float32Array, up: Float32Array, down: Float32Array, D: number, F: number, parts: ArrayLike<number>[]): ExpertWeights[] {
  const downs = takeColsMany(down, D, F, parts);
  return parts.map((idx, j) => ({
    gate: new Tensor(takeRows(gate, D, idx), [idx.length, D]),
    up: new Tensor(takeRows(up, D, idx), [idx.length, D]),
    down: new Tensor(downs[j]!, [D, idx.length]),
  }));
}

export interface GateInitOptions {
  init: GateInit;
  rng: Rng;
  /** [E, D] rows computed from calibration data, for the data inits (centroids, kmeans, representative, ridge). */
  centroids?: Float32Array;
  std?: number;
}

/** Gate weights for a fresh MoE layer: random N(0, 0.02) (the paper), zeros, or rows computed from calibration data. */
export function initGate(spec: MoeSpec, D: number, format: MoeFormat, g: GateInitOptions): GateModule {
  const E = spec.numExperts;
  const std = g.std ?? 0.02;
  const mat = (r: number, c: number, kind: GateInit, centroid?: Float32Array) => {
    const d = new Float32Array(r * c);
    if (kind === 'random') for (let i = 0; i < d.length; i++) d[i] = g.rng.normal() * std;
    else if (isDataGateInit(kind)) d.set(centroid!);
    return new Tensor(d, [r, c]);
  };
  if (isDataGateInit(g.init) && (!g.centroids || g.centroids.length !== E * D)) throw new RangeError(`--gate-init ${g.init} needs calibration data (--data) to compute its [${E}, ${D}] router rows`);
  const first = mat(E, D, g.init, g.centroids);
  if (format === 'mixtral') return new MixtralGate({ hiddenSize: D, numExperts: E, topK: spec.numSelects, routerAuxLossCoef: spec.routerAuxLossCoef }, first);
  const net = spec.gateNetwork === 'mlp'
    // mlp: data rows feed the first layer; the second starts as the identity so their scores pass through (tanh keeps their order).
    ? [first, isDataGateInit(g.init) ? new Tensor(Float32Array.from({ length: E * E }, (_, i) => (i % (E + 1) === 0 ? 1 : 0)), [E, E]) : mat(E, E, g.init)]
    : [first];
  if (spec.gateType === 'ExpertChoiceGate') {
    return new ExpertChoiceGate({ hiddenSize: D, numExperts: E, gateNetwork: spec.gateNetwork, capacityFactor: spec.capacityFactor, zLossCoef: spec.gateZLossWeight }, net);
  }
  if (spec.gateType === 'SwitchBalancedGate') {
    return new SwitchGate({ hiddenSize: D, numExperts: E, gateNetwork: spec.gateNetwork, balanceLossWeight: spec.gateBalanceLossWeight, addNoise: spec.gateAddNoise, useBalance: spec.gateUseBalance, zLossCoef: spec.gateZLossWeight }, net);
  }
  return new NoisyTopKGate({
    hiddenSize: D, numExperts: E, numSelects: spec.numSelects, gateNetwork: spec.gateNetwork, useSoftmax: spec.gateUseSoftmax, useBalance: spec.gateUseBalance,
    balanceLossWeight: spec.gateBalanceLossWeight, addNoise: spec.gateAddNoise, noiseEpsilon: spec.gateNoiseEpsilon, zLossCoef: spec.gateZLossWeight,
  }, net);
}

export function moeFfnOptions(spec: MoeSpec, layer: number, format: MoeFormat) {
  return {
    layout: format,
    scoreScale: format === 'mixtral' ? 1 : scoreScaleAt(spec, layer),
    multiplyGateScores: spec.multiplyGateScores,
    calculator: spec.calculatorType,
    dropTokens: spec.dropTokens,
    capacityFactor: spec.capacityFactor,
    droppedPadding: spec.droppedPadding,
  } as const;
}

/**
 * An MoE model's spec and format, read from its config (`model_type` llama_moe or mixtral and the
 * MoE keys), or null for a dense model: whether a model is an MoE is a property of its config, as
 * in transformers.
 */
export function moeConfigOf(cfg: LlamaConfig): { spec: MoeSpec; format: MoeFormat } | null {
  return cfg.model_type === 'llama_moe' || cfg.model_type === 'mixtral' ? specFromConfig(cfg) : null;
}

/** MoE keys of both formats: removed from a config before another format's keys are written. */
const MOE_CONFIG_KEYS = [
  'num_experts', 'num_selects', 'size_experts', 'gate_type', 'gate_network', 'gate_use_softmax', 'gate_use_balance', 'gate_balance_loss_weight', 'gate_add_noise', 'gate_noise_epsilon',
  'calculator_type', 'multiply_gate_scores', 'score_scale_factor', 'add_weight_norm', 'drop_tokens', 'dropped_padding', 'capacity_factor',
  'num_local_experts', 'num_experts_per_tok', 'router_aux_loss_coef', 'output_router_logits', 'router_jitter_noise',
] as const;
const MOE_EXTRA_KEYS = ['size_shared_experts', 'gate_z_loss_weight'] as const;

/** `cfg` without any MoE key (typed or extra): the LLaMA part of an MoE config. */
export function denseBaseConfig(cfg: LlamaConfig): LlamaConfig {
  const out = { ...cfg, extra: { ...cfg.extra } } as LlamaConfig & Record<string, unknown>;
  for (const k of MOE_CONFIG_KEYS) delete out[k];
  for (const k of MOE_EXTRA_KEYS) delete out.extra[k];
  return out;
}

/** config.json of `cfg`'s model as an MoE of `spec` in `format` (plain JSON values, PyFloat markers kept). */
export function moeConfigJson(cfg: LlamaConfig, spec: MoeSpec, format: MoeFormat, dtype: string): Record<string, unknown> {
  const base = denseBaseConfig(cfg);
  return format === 'mixtral' ? mixtralConfigJson(base, spec, dtype) : llamaMoeConfigJson(base, spec, dtype);
}

/** The parsed config of an MoE of `spec` in `format` built from `cfg` (what loading its saved folder gives). */
export function moeConfig(cfg: LlamaConfig, spec: MoeSpec, format: MoeFormat): LlamaConfig {
  return parseLlamaConfig(JSON.parse(pyJsonDumps(moeConfigJson(cfg, spec, format, cfg.torch_dtype ?? 'float32'))));
}

/** Experts' FFN outputs scaled so Mixtral (no scale key) computes what LLaMA-MoE computes with score_scale_factor. */
function foldScale(down: Tensor, s: number): Tensor {
  return s === 1 ? down : noGrad(() => scale(down, s));
}

/** The tensors of an MoE model in the given format, in transformers' state_dict order. */
export function moeTensors(model: LlamaForCausalLM, format: MoeFormat): [string, Tensor][] {
  const info = moeConfigOf(model.config);
  if (!info) throw new FormatError(`not an MoE model (model_type '${model.config.model_type}')`);
  if (format === info.format) return model.namedParameters();
  // Convert layout: re-emit the FFN tensors under the other format's names.
  const out: [string, Tensor][] = [];
  for (const [name, t] of model.namedParameters()) {
    const m = /^model\.layers\.(\d+)\.(mlp|block_sparse_moe)\./.exec(name);
    if (!m) { out.push([name, t]); continue; }
    const l = Number(m[1]);
    const ffn = model.weights.layers[l]!.mlp as MoeFeedForward;
    if (!out.some(([n]) => n.startsWith(`model.layers.${l}.${format === 'mixtral' ? 'block_sparse_moe' : 'mlp'}.`))) {
      const gateP = ffn.gate.namedParameters();
      if (format === 'mixtral') {
        const w = gateP.find(([n]) => n === 'gate.gate_network.weight')?.[1];
        if (!w) throw new FormatError(`layer ${l}: only a linear gate converts to Mixtral`);
        out.push([mixtralNames.gate(l), w]);
        const s = scoreScaleAt(info.spec, l);
        ffn.experts.forEach((e, j) => out.push([mixtralNames.expert(l, j, 'w1'), e.gate], [mixtralNames.expert(l, j, 'w2'), foldScale(e.down, s)], [mixtralNames.expert(l, j, 'w3'), e.up]));
      } else {
        const w = gateP.find(([n]) => n === 'gate.weight')![1];
        out.push([llamaMoeNames.gateNetwork(l, null), w], [llamaMoeNames.weightNoise(l), new Tensor(new Float32Array(w.size), w.shape)]);
        ffn.experts.forEach((e, j) => out.push([llamaMoeNames.expert(l, 'gate', j), e.gate]));
        ffn.experts.forEach((e, j) => out.push([llamaMoeNames.expert(l, 'up', j), e.up]));
        ffn.experts.forEach((e, j) => out.push([llamaMoeNames.expert(l, 'down', j), e.down]));
      }
    }
  }
  return out;
}

export interface SaveMoeOptions {
  format?: MoeFormat;
  dtype?: SaveDType;
  maxShardBytes?: number;
  overwrite?: boolean;
  extraFiles?: Record<string, unknown>;
}

export const PARTITION_FILE = 'llama_moe_partition.json';

/** llama_moe_partition.json: where every expert's neurons came from in the dense model. */
export interface PartitionFile {
  method: string;
  format_version: 1;
  /** [L][E] neuron ids; null for copies (upcycle, drop-upcycle): nothing to merge back. */
  experts: number[][][] | null;
  /** [L][Es] neuron ids of the shared experts, or null. */
  shared_experts: number[][][] | null;
  /** score_scale_factor folded into the experts' down weights (Mixtral layout): one, or one per layer; null when none. */
  folded_score_scale: number | number[] | null;
}

/** The partition file of a model whose every MoE layer knows its origin (built from a dense model), else null. */
export function partitionFileOf(model: LlamaForCausalLM): PartitionFile | null {
  const origins = model.weights.layers.map((L) => (L.mlp instanceof MoeFeedForward ? L.mlp.origin : null));
  if (!origins.length || origins.some((o) => o === null)) return null;
  const os = origins as ExpertOrigin[];
  const method = os[0]!.method;
  const copies = os.some((o) => o.experts === null);
  const folded = os.map((o) => o.foldedScale);
  return {
    method, format_version: 1,
    experts: copies ? null : os.map((o) => o.experts!),
    shared_experts: os.every((o) => o.shared === null) ? null : os.map((o) => o.shared ?? []),
    folded_score_scale: folded.every((f) => f === null) ? null : folded.every((f) => f === folded[0]) ? folded[0]! : folded.map((f) => f ?? 1),
  };
}

/** Attach a partition file's origins to the layers of a loaded model (so that saving it again keeps the file). */
export function setPartitionFile(model: LlamaForCausalLM, pf: PartitionFile): void {
  model.weights.layers.forEach((L, l) => {
    if (!(L.mlp instanceof MoeFeedForward)) return;
    const f = pf.folded_score_scale;
    L.mlp.origin = {
      method: pf.method, experts: pf.experts?.[l] ?? null, shared: pf.shared_experts?.[l] ?? null,
      foldedScale: f === null ? null : Array.isArray(f) ? (f[l] ?? null) : f,
    };
  });
}

/** Read the MoE spec from a llama_moe or mixtral config. */
export function specFromConfig(cfg: LlamaConfig): { spec: MoeSpec; format: MoeFormat } {
  const L = cfg.num_hidden_layers;
  if (cfg.model_type === 'mixtral') {
    const E = cfg.num_local_experts!, k = cfg.num_experts_per_tok!;
    const spec = defaultMoeSpec(L, cfg.intermediate_size * E, E, k);
    return {
      format: 'mixtral',
      spec: { ...spec, gateNetwork: 'linear', gateAddNoise: false, scoreScaleFactor: 1, sizeExperts: Array.from({ length: L }, () => new Array<number>(E).fill(cfg.intermediate_size)), routerAuxLossCoef: cfg.router_aux_loss_coef ?? 0.001 },
    };
  }
  if (cfg.model_type === 'llama_moe') {
    const E = cfg.num_experts!, k = cfg.num_selects!;
    const base = defaultMoeSpec(L, cfg.intermediate_size, E, k);
    const sizes = cfg.size_experts ?? base.sizeExperts;
    if (!sizes.length) throw new FormatError(`config.json: intermediate_size ${cfg.intermediate_size} is not divisible by num_experts ${E} and size_experts is missing`);
    const extra = cfg.extra as Record<string, unknown>;
    return {
      format: 'llama-moe',
      spec: {
        ...base,
        sizeExperts: sizes,
        gateType: (cfg.gate_type ?? 'TopKBalancedNoisyGate') as MoeSpec['gateType'],
        gateNetwork: (cfg.gate_network ?? 'mlp') as 'mlp' | 'linear',
        gateUseSoftmax: cfg.gate_use_softmax ?? true,
        gateUseBalance: cfg.gate_use_balance ?? true,
        gateBalanceLossWeight: cfg.gate_balance_loss_weight ?? 0.01,
        gateAddNoise: cfg.gate_add_noise ?? true,
        gateNoiseEpsilon: cfg.gate_noise_epsilon ?? 0.01,
        calculatorType: (cfg.calculator_type ?? 'UniversalCalculator') as MoeSpec['calculatorType'],
        multiplyGateScores: cfg.multiply_gate_scores ?? true,
        scoreScaleFactor: (cfg.score_scale_factor ?? 1) as number | number[],
        dropTokens: cfg.drop_tokens ?? true,
        droppedPadding: (cfg.dropped_padding ?? 'zero') as 'zero' | 'input',
        capacityFactor: cfg.capacity_factor ?? 1.25,
        sizeSharedExperts: (extra?.size_shared_experts as number[][] | undefined) ?? [],
        gateZLossWeight: typeof extra?.gate_z_loss_weight === 'number' ? extra.gate_z_loss_weight : 0,
      },
    };
  }
  throw new FormatError(`model_type '${cfg.model_type}' is not an MoE model (expected llama_moe or mixtral)`);
}

function loadMoeFfn(l: number, ckpt: ReadableCheckpoint, cfg: LlamaConfig, spec: MoeSpec, format: MoeFormat, seed: number): MoeFeedForward {
  const D = cfg.hidden_size, E = spec.numExperts;
  const sizes = spec.sizeExperts[l];
  if (!sizes || sizes.length !== E) throw new FormatError(`config.json: size_experts[${l}] must list ${E} expert sizes`);
  const experts: ExpertWeights[] = [];
  let gate: GateModule;
  if (format === 'mixtral') {
    gate = new MixtralGate({ hiddenSize: D, numExperts: E, topK: spec.numSelects, routerAuxLossCoef: spec.routerAuxLossCoef }, readParam(ckpt, mixtralNames.gate(l), [E, D]));
    for (let j = 0; j < E; j++) {
      const s = sizes[j]!;
      experts.push({ gate: readParam(ckpt, mixtralNames.expert(l, j, 'w1'), [s, D]), up: readParam(ckpt, mixtralNames.expert(l, j, 'w3'), [s, D]), down: readParam(ckpt, mixtralNames.expert(l, j, 'w2'), [D, s]) });
    }
  } else {
    const net = spec.gateNetwork === 'mlp'
      ? [readParam(ckpt, llamaMoeNames.gateNetwork(l, 0), [E, D]), readParam(ckpt, llamaMoeNames.gateNetwork(l, 2), [E, E])]
      : [readParam(ckpt, llamaMoeNames.gateNetwork(l, null), [E, D])];
    if (spec.gateType === 'ExpertChoiceGate') {
      gate = new ExpertChoiceGate({ hiddenSize: D, numExperts: E, gateNetwork: spec.gateNetwork, capacityFactor: spec.capacityFactor, zLossCoef: spec.gateZLossWeight }, net);
    } else if (spec.gateType === 'SwitchBalancedGate') {
      gate = new SwitchGate({ hiddenSize: D, numExperts: E, gateNetwork: spec.gateNetwork, balanceLossWeight: spec.gateBalanceLossWeight, addNoise: spec.gateAddNoise, useBalance: spec.gateUseBalance, zLossCoef: spec.gateZLossWeight }, net);
    } else {
      const wn = ckpt.has(llamaMoeNames.weightNoise(l)) ? readParam(ckpt, llamaMoeNames.weightNoise(l), [E, D]) : undefined;
      gate = new NoisyTopKGate({
        hiddenSize: D, numExperts: E, numSelects: spec.numSelects, gateNetwork: spec.gateNetwork, useSoftmax: spec.gateUseSoftmax, useBalance: spec.gateUseBalance,
        balanceLossWeight: spec.gateBalanceLossWeight, addNoise: spec.gateAddNoise, noiseEpsilon: spec.gateNoiseEpsilon, zLossCoef: spec.gateZLossWeight,
      }, net, wn);
    }
    for (let j = 0; j < E; j++) {
      const s = sizes[j]!;
      experts.push({ gate: readParam(ckpt, llamaMoeNames.expert(l, 'gate', j), [s, D]), up: readParam(ckpt, llamaMoeNames.expert(l, 'up', j), [s, D]), down: readParam(ckpt, llamaMoeNames.expert(l, 'down', j), [D, s]) });
    }
  }
  const shared: ExpertWeights[] = (spec.sizeSharedExperts[l] ?? []).map((s, j) => ({
    gate: readParam(ckpt, llamaMoeNames.shared(l, 'gate', j), [s, D]), up: readParam(ckpt, llamaMoeNames.shared(l, 'up', j), [s, D]), down: readParam(ckpt, llamaMoeNames.shared(l, 'down', j), [D, s]),
  }));
  return new MoeFeedForward(gate, experts, moeFfnOptions(spec, l, format), shared, seed * 1000 + l);
}

/** Build a llama_moe or mixtral model from any checkpoint (a folder, or bytes in memory in a browser). */
export function loadMoeModelFrom(ckpt: ReadableCheckpoint, cfg: LlamaConfig, opts: { seed?: number } = {}): LlamaForCausalLM {
  const { spec, format } = specFromConfig(cfg);
  const model = loadLlamaFrom(ckpt, cfg, { ffnLoader: (l, c, config) => loadMoeFfn(l, c, config, spec, format, opts.seed ?? 0) });
  model.nameParameters();
  return model;
}

export interface BuildMoeOptions {
  spec: MoeSpec;
  format: MoeFormat;
  /** Per layer: neuron ids per routed expert. */
  partition: ArrayLike<number>[][];
  /** Per layer: neuron ids per shared expert (sharing-inter). */
  sharedPartition?: ArrayLike<number>[][];
  gateInit: GateInit;
  /** Per layer [E, D] router rows for the data gate inits (centroids, kmeans, representative, ridge). */
  centroids?: Float32Array[];
  /**
   * Per layer output scales folded into down_proj (--recalibrate): index 0 scales the shared
   * experts, 1 + e routed expert e.
   */
  expertScales?: Float64Array[];
  /** drop-upcycle: every expert a full copy with this fraction of its neurons re-initialised. */
  dropRatio?: number;
  seed?: number;
  /** Upcycling: std of Gaussian noise added to copied expert weights (relative to each weight's std). */
  upcycleNoise?: number;
  method?: string;
}

function scaleInPlace(t: Tensor, c: number): void {
  if (c === 1) return;
  const d = t.f32();
  for (let i = 0; i < d.length; i++) d[i]! *= c;
}

/**
 * Drop-Upcycling (Nakamura et al., ICLR 2025): a full copy of the dense FFN in which a fraction
 * `ratio` of the intermediate neurons (a seeded random subset, different per expert) gets fresh
 * weights: rows of gate_proj/up_proj and columns of down_proj drawn from N(mean, std²) of the
 * original matrix, so the expert starts partly dense-equivalent and partly new.
 */
export function dropUpcycleExpert(e: ExpertWeights, gate: Float32Array, up: Float32Array, down: Float32Array, ratio: number, seed: number): Int32Array {
  const F = e.gate.shape[0]!, D = e.gate.shape[1]!;
  const rng = createRng(seed);
  const n = Math.round(ratio * F);
  const perm = Int32Array.from({ length: F }, (_, i) => i);
  for (let i = 0; i < n; i++) { const j = i + rng.int(F - i); const t = perm[i]!; perm[i] = perm[j]!; perm[j] = t; }
  const dropped = perm.slice(0, n).sort();
  const stats = (w: Float32Array) => {
    let s = 0, s2 = 0;
    for (let i = 0; i < w.length; i++) { s += w[i]!; s2 += w[i]! * w[i]!; }
    const mean = s / w.length;
    return { mean, std: Math.sqrt(Math.max(s2 / w.length - mean * mean, 0)) };
  };
  const gs = stats(gate), us = stats(up), ds = stats(down);
  const g = e.gate.f32(), u = e.up.f32(), d = e.down.f32();
  for (const i of dropped) {
    for (let p = 0; p < D; p++) g[i * D + p] = gs.mean + gs.std * rng.normal();
    for (let p = 0; p < D; p++) u[i * D + p] = us.mean + us.std * rng.normal();
    for (let p = 0; p < D; p++) d[p * F + i] = ds.mean + ds.std * rng.normal();
  }
  return dropped;
}

/** Build an MoE model from a dense one and a partition (experts copy the dense weights; the dense model is untouched). */
export function buildMoeFromDense(dense: LlamaForCausalLM, o: BuildMoeOptions): LlamaForCausalLM {
  const cfg = dense.config;
  const D = cfg.hidden_size, F = cfg.intermediate_size;
  if (o.format === 'mixtral') {
    const why = mixtralIncompatibility(cfg, o.spec);
    if (why) throw new FormatError(why);
  }
  const rng = createRng(o.seed ?? 0);
  const layers = dense.weights.layers.map((L, l) => {
    const mlp = L.mlp;
    if (!(mlp instanceof DenseFeedForward)) throw new FormatError(`layer ${l} is not a dense SwiGLU FFN`);
    if (mlp.biases) throw new FormatError('dense FFNs with mlp_bias cannot be split (LLaMA-MoE experts have no biases)');
    const parts = o.partition[l]!;
    const experts = expertsFromDense(mlp.gate.f32(), mlp.up.f32(), mlp.down.f32(), D, F, parts);
    if (o.dropRatio !== undefined) experts.forEach((e, j) => dropUpcycleExpert(e, mlp.gate.f32(), mlp.up.f32(), mlp.down.f32(), o.dropRatio!, mixSeed(o.seed ?? 0, l, 0x44524f50 + j)));
    if (o.upcycleNoise && o.upcycleNoise > 0) {
      for (const e of experts) for (const t of [e.gate, e.up, e.down]) {
        const d = t.f32();
        let ss = 0;
        for (let i = 0; i < d.length; i++) ss += d[i]! * d[i]!;
        const sd = Math.sqrt(ss / d.length) * o.upcycleNoise;
        for (let i = 0; i < d.length; i++) d[i]! += rng.normal() * sd;
      }
    }
    if (o.format === 'mixtral') {
      // Mixtral has no score-scale key: fold LLaMA-MoE's score_scale_factor into w2 (down).
      const sc = scoreScaleAt(o.spec, l);
      if (sc !== 1) for (const e of experts) { const d = e.down.f32(); for (let i = 0; i < d.length; i++) d[i]! *= sc; }
    }
    const shared = o.sharedPartition ? expertsFromDense(mlp.gate.f32(), mlp.up.f32(), mlp.down.f32(), D, F, o.sharedPartition[l] ?? []) : [];
    const c = o.expertScales?.[l];
    if (c) {
      // Folded before Mixtral's score scale: both multiply down_proj, the order does not matter.
      shared.forEach((e) => scaleInPlace(e.down, c[0]!));
      experts.forEach((e, j) => scaleInPlace(e.down, c[1 + j]!));
    }
    const gate = initGate(o.spec, D, o.format, { init: o.gateInit, rng, centroids: o.centroids?.[l] });
    const ffn = new MoeFeedForward(gate, experts, moeFfnOptions(o.spec, l, o.format), shared, (o.seed ?? 0) * 1000 + l);
    ffn.origin = {
      method: o.method ?? 'custom',
      // Upcycled experts are copies, not a partition: nothing to merge back (as the streaming split writes it).
      experts: o.method === 'upcycle' || o.method === 'drop-upcycle' ? null : parts.map((p) => Array.from(p)),
      shared: o.sharedPartition ? (o.sharedPartition[l] ?? []).map((p) => Array.from(p)) : null,
      foldedScale: o.format === 'mixtral' ? scoreScaleAt(o.spec, l) : null,
    };
    return { ...L, mlp: ffn };
  });
  const spec = o.format === 'mixtral' ? { ...o.spec, scoreScaleFactor: 1 } : o.spec;
  const model = new LlamaForCausalLM(moeConfig(cfg, spec, o.format), { ...dense.weights, layers });
  model.nameParameters();
  return model;
}

/**
 * MoE → dense: put every expert's rows/columns back at their neuron ids. With the partition file
 * written by split, a partition method returns the original weights bit for bit; without it the
 * experts are concatenated in order (an equivalent FFN up to a neuron permutation). Shared experts
 * (sharing-inter) hold the neurons the routed ones do not, so they are merged back the same way,
 * at the ids of `sharedPartition` (after the routed neurons when it is not given).
 */
export function mergeExperts(model: LlamaForCausalLM, partition: number[][][] | null, foldedScale: number | number[] | null = null, sharedPartition: number[][][] | null = null): LlamaForCausalLM {
  const cfg = model.config;
  const D = cfg.hidden_size;
  const layers = model.weights.layers.map((L, l) => {
    const ffn = L.mlp as MoeFeedForward;
    if (!(ffn instanceof MoeFeedForward)) throw new FormatError(`layer ${l} is not an MoE layer`);
    // Shared experts (carve, sharing-inter) hold the neurons the routed ones do not: they go back in
    // too, at the ids of `sharedPartition` (after the routed neurons when it is not given).
    // A partition file that lists the routed experts' neurons but not the shared ones leaves the
    // shared neurons' ids unknown (in order after the routed ones only when no partition is given).
    if (ffn.shared.length && partition?.[l] && !sharedPartition?.[l]) throw new FormatError('merge-experts: the model has shared experts but no partition file listing their neurons; it cannot be merged back');
    let next = 0;
    const inOrder = (list: readonly ExpertWeights[]) => list.map((e) => Array.from({ length: e.gate.shape[0]! }, () => next++));
    const parts = partition?.[l] ?? inOrder(ffn.experts);
    if (!partition?.[l]) next = parts.reduce((a, p) => a + p.length, 0);
    const sharedParts = ffn.shared.length ? (sharedPartition?.[l] ?? inOrder(ffn.shared)) : [];
    if (sharedParts.length !== ffn.shared.length) throw new FormatError(`layer ${l}: the partition file lists ${sharedParts.length} shared experts, the model has ${ffn.shared.length}`);
    const F = parts.reduce((a, p) => a + p.length, 0) + sharedParts.reduce((a, p) => a + p.length, 0);
    const seen = new Uint8Array(F);
    for (const p of [...parts, ...sharedParts]) for (const i of p) {
      if (i < 0 || i >= F || seen[i]) throw new FormatError(`layer ${l}: neuron ${i} appears twice or is out of range; only partitions that hold every neuron once (random, clustering, graph, gradient, sharing-inter, carve) merge back`);
      seen[i] = 1;
    }
    const gate = new Float32Array(F * D), up = new Float32Array(F * D), down = new Float32Array(D * F);
    // Undo a score scale folded into Mixtral's w2 (exact when the scale is a power of two, e.g. E/k = 4).
    const folded = foldedScale === null ? 1 : Array.isArray(foldedScale) ? foldedScale[l]! : foldedScale;
    const scaleDown = 1 / folded;
    const put = (e: ExpertWeights, p: number[], sd: number) => {
      const g = e.gate.f32(), u = e.up.f32(), dn = e.down.f32();
      const s = p.length;
      p.forEach((neuron, r) => {
        gate.set(g.subarray(r * D, (r + 1) * D), neuron * D);
        up.set(u.subarray(r * D, (r + 1) * D), neuron * D);
        for (let d = 0; d < D; d++) down[d * F + neuron] = sd === 1 ? dn[d * s + r]! : Math.fround(dn[d * s + r]! * sd);
      });
    };
    parts.forEach((p, j) => put(ffn.experts[j]!, p, scaleDown));
    // The score scale never multiplies the shared experts.
    sharedParts.forEach((p, j) => put(ffn.shared[j]!, p, 1));
    return { ...L, mlp: new DenseFeedForward(new Tensor(gate, [F, D]), new Tensor(up, [F, D]), new Tensor(down, [D, F])) };
  });
  const F = layers[0] ? (layers[0].mlp as DenseFeedForward).gate.shape[0]! : cfg.intermediate_size;
  const cfgOut: LlamaConfig = { ...cfg, model_type: 'llama', architectures: ['LlamaForCausalLM'], intermediate_size: F };
  for (const k of ['num_experts', 'num_selects', 'size_experts', 'gate_type', 'gate_network', 'gate_use_softmax', 'gate_use_balance', 'gate_balance_loss_weight', 'gate_add_noise', 'gate_noise_epsilon', 'calculator_type', 'multiply_gate_scores', 'score_scale_factor', 'add_weight_norm', 'drop_tokens', 'dropped_padding', 'capacity_factor', 'num_local_experts', 'num_experts_per_tok', 'router_aux_loss_coef', 'output_router_logits', 'router_jitter_noise'] as const) {
    delete (cfgOut as unknown as Record<string, unknown>)[k];
  }
  const m = new LlamaForCausalLM(cfgOut, { ...model.weights, layers });
  m.nameParameters();
  return m;
}

/** Loss settings of a loaded MoE model that a training run may change (LLaMA-MoE config keys). */
export interface MoeLossSettings {
  /** gate_balance_loss_weight (llama_moe) / router_aux_loss_coef (mixtral). */
  balanceLossWeight?: number;
  /** gate_z_loss_weight: the router z-loss (llama_moe only: a Mixtral config.json cannot store it). */
  zLossWeight?: number;
  /** capacity_factor of the switch gate's token dropping. */
  capacityFactor?: number;
}

/**
 * Change the balance-loss weight, z-loss weight or capacity factor of every MoE layer of `model`,
 * and its spec, so that the checkpoints it is saved to say what it was trained with.
 */
export function setMoeLossSettings(model: LlamaForCausalLM, s: MoeLossSettings): void {
  const info = moeConfigOf(model.config);
  if (!info) throw new FormatError('not an MoE model: there is no gate whose losses could be set');
  if (s.zLossWeight !== undefined && s.zLossWeight > 0 && info.format === 'mixtral') throw new FormatError('z_loss_weight: a Mixtral config.json has no z-loss key; split with --format llama-moe');
  if (s.capacityFactor !== undefined && info.spec.calculatorType !== 'SwitchDropTokenCalculator' && info.spec.gateType !== 'ExpertChoiceGate') throw new FormatError(`capacity_factor: only a switch or expert-choice gate has a capacity (this model's gate is ${info.spec.gateType}); split with --gate switch or --gate expert-choice`);
  const spec = { ...info.spec };
  if (s.balanceLossWeight !== undefined) {
    if (info.format === 'mixtral') spec.routerAuxLossCoef = s.balanceLossWeight;
    else spec.gateBalanceLossWeight = s.balanceLossWeight;
  }
  if (s.zLossWeight !== undefined) spec.gateZLossWeight = s.zLossWeight;
  if (s.capacityFactor !== undefined) spec.capacityFactor = s.capacityFactor;
  for (const L of model.weights.layers) {
    const ffn = L.mlp;
    if (!(ffn instanceof MoeFeedForward)) continue;
    const g = ffn.gate as GateModule & { cfg?: Record<string, unknown> };
    if (g instanceof MixtralGate) {
      if (s.balanceLossWeight !== undefined) (g.cfg as { routerAuxLossCoef: number }).routerAuxLossCoef = s.balanceLossWeight;
    } else if (g instanceof NoisyTopKGate || g instanceof SwitchGate || g instanceof ExpertChoiceGate) {
      if (s.balanceLossWeight !== undefined) (g.cfg as { balanceLossWeight: number }).balanceLossWeight = s.balanceLossWeight;
      if (s.zLossWeight !== undefined) (g.cfg as { zLossCoef: number }).zLossCoef = s.zLossWeight;
      if (s.capacityFactor !== undefined && g instanceof ExpertChoiceGate) (g.cfg as { capacityFactor: number }).capacityFactor = s.capacityFactor;
    }
    if (s.capacityFactor !== undefined) (ffn.opts as { capacityFactor: number }).capacityFactor = s.capacityFactor;
  }
  // The config says what the model is trained with, so that its checkpoints say it too.
  Object.assign(model.config, moeConfig(model.config, spec, info.format));
}
