/**
 * `llama-moe split`: dense LLaMA folder → LLaMA-MoE or Mixtral folder.
 *
 * Weight-only constructions (random, clustering, upcycle) with random or zero gates stream the
 * checkpoint layer by layer: non-FFN tensors are copied (raw bytes when the dtype is unchanged,
 * so they stay bit-identical), one layer's FFN is read, partitioned and written as experts, then
 * dropped — peak memory is about one FFN layer in f32 plus its experts, whatever the model size.
 * Data-driven constructions (graph, gradient, sharing-*, centroid gates) need forward/backward
 * passes over calibration data and hold the dense model in memory.
 * The output folder appears atomically (staged beside it, renamed at the end).
 */
import * as fs from 'node:fs';
import { createRng, f32ToBf16, f32ToF16 } from '@llama-moe/tensor-core';
import {
  generationConfigJson, openCheckpoint, readLlamaConfig, toSafetensorsInput, writeCheckpointFolder,
  type Checkpoint, type LlamaConfig, type SafetensorsTensorInput, type SaveDType,
} from '@llama-moe/llama-model/node';
import { Tensor } from '@llama-moe/tensor-core';
import { llamaMoeNames } from '../formats/llama-moe.js';
import { mixtralIncompatibility, mixtralNames } from '../formats/mixtral.js';
import { defaultMoeSpec, scoreScaleAt, type GateType, type MoeSpec } from '../formats/moe-spec.js';
import { GATE_INITS, isDataGateInit, type GateInit } from '../moe/gate-init.js';
import { PARTITION_FILE } from '../moe/partition-file.js';
import { takeColsMany, takeRows } from '../moe/gather.js';
import { moeConfigJson, type MoeFormat } from '../moe/moe-config.js';
import { carveSizes, defaultCarveSharedSize } from '../partition/carve.js';
import { clusteringPartition } from '../partition/clustering.js';
import { randomPartition, upcyclePartition } from '../partition/random.js';
import { mixSeed } from '../partition/seed.js';
import { resolveSizes } from '../partition/sizes.js';
import { PARTITION_METHODS, type NeuronPartition, type PartitionMethod } from '../partition/types.js';

export interface SplitOptions {
  /** Dense model folder. */
  model: string;
  /** Output folder (must not exist or be empty unless overwrite). */
  out: string;
  experts: number;
  topK: number;
  method: PartitionMethod;
  format?: MoeFormat;
  gateInit?: GateInit;
  /** 'mlp' (LLaMA-MoE default) or 'linear' (forced for Mixtral). */
  gateNetwork?: 'mlp' | 'linear';
  /** score_scale_factor (default E/k). */
  scoreScale?: number;
  /** LLaMA-MoE gate: TopKBalancedNoisyGate (default) or SwitchBalancedGate (top-1, capacity, token dropping). */
  gateType?: GateType;
  /** Switch gate: expert capacity = floor(capacity_factor · T / E) tokens (default 1.25). */
  capacityFactor?: number;
  /** Weight of the gate's balance loss (gate_balance_loss_weight, default 0.01). */
  balanceLossWeight?: number;
  /** ST-MoE router z-loss weight (llama-moe format; default 0 = off). */
  zLossWeight?: number;
  /** Per-expert sizes (unequal experts), applied to every layer. */
  sizeExperts?: number[];
  /** sharing-inter: neurons moved into always-on shared experts (default F/E); carve: the shared expert's size (default ⌊F/(E+1)⌋, 0: none). */
  sharedSize?: number;
  /** carve: fit one output scale per expert (shared included) to the dense FFN output, folded into down_proj. */
  recalibrate?: boolean;
  /** drop-upcycle: fraction of each expert's neurons re-initialised (default 0.5). */
  dropRatio?: number;
  /** Calibration data (folder of domains, .jsonl or .txt) for graph/gradient/sharing/centroids. */
  data?: string;
  calibrationTokens?: number;
  /** upcycle: relative std of noise added to the copies. */
  upcycleNoise?: number;
  /** clustering metric. */
  metric?: 'l2' | 'cos';
  seed?: number;
  /** Storage dtype (default: the dense model's torch_dtype when float32/bfloat16/float16). */
  dtype?: SaveDType;
  maxShardBytes?: number;
  overwrite?: boolean;
  onProgress?: (p: { layer: number; layers: number; phase: string }) => void;
}

export interface SplitResult {
  out: string;
  format: MoeFormat;
  method: PartitionMethod;
  layers: number;
  spec: MoeSpec;
  seconds: number;
  streamed: boolean;
  /** Data routers: per layer, the fitted row scale and reconstruction errors (carve). */
  routerFits?: import('./data-routers.js').LayerRouterFit[];
}

/**
 * sharing-inter's shared-expert size: the given one; else what `sizeExperts` leaves of F; else about
 * F/E, raised to the nearest size that leaves the routed experts equal (176 neurons, 8 experts: 24
 * shared + 8 × 19), so the default works for every intermediate_size.
 */
export function sharingInterSharedSize(F: number, E: number, sharedSize?: number, sizeExperts?: readonly number[]): number {
  if (sharedSize !== undefined) return sharedSize;
  if (sizeExperts) return F - sizeExperts.reduce((a, b) => a + b, 0);
  let shared = Math.max(1, Math.floor(F / E));
  while ((F - shared) % E !== 0) shared++;
  return shared;
}

export class SplitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SplitError';
  }
}

const DATA_METHODS = new Set<PartitionMethod>(['graph', 'gradient', 'sharing-inner', 'sharing-inter', 'carve']);

/** carve's router when --gate-init is not given: the better closed-form init on the Brown model (docs/BEYOND-PAPER.md). */
export const CARVE_DEFAULT_GATE_INIT: GateInit = 'ridge';
/** The router init `split` uses for a method when --gate-init is not given. */
export const defaultGateInit = (method: PartitionMethod): GateInit => (method === 'carve' ? CARVE_DEFAULT_GATE_INIT : 'random');
export const DEFAULT_DROP_RATIO = 0.5;

export function validateSplitOptions(o: SplitOptions, cfg: LlamaConfig): { spec: MoeSpec; format: MoeFormat; gateInit: GateInit; dtype: SaveDType; sizes: number[] } {
  if (!PARTITION_METHODS.includes(o.method)) throw new SplitError(`unknown method '${o.method}' (expected one of ${PARTITION_METHODS.join(', ')})`);
  const format = o.format ?? 'llama-moe';
  if (format !== 'llama-moe' && format !== 'mixtral') throw new SplitError(`unknown format '${String(format)}' (expected llama-moe or mixtral)`);
  const gateInit = o.gateInit ?? defaultGateInit(o.method);
  if (!GATE_INITS.includes(gateInit)) throw new SplitError(`unknown gate init '${gateInit}' (expected one of ${GATE_INITS.join(', ')})`);
  if (cfg.model_type !== 'llama' && cfg.model_type !== 'mistral') throw new SplitError(`${o.model}: model_type '${cfg.model_type}' is not a dense LLaMA (split expects llama or mistral)`);
  if (cfg.mlp_bias) throw new SplitError(`${o.model}: mlp_bias is set; LLaMA-MoE experts have no biases`);
  const E = o.experts, k = o.topK, F = cfg.intermediate_size, L = cfg.num_hidden_layers;
  if (!Number.isInteger(E) || E < 1) throw new SplitError(`--experts must be a positive integer, got ${E}`);
  if (!Number.isInteger(k) || k < 1) throw new SplitError(`--top-k must be a positive integer, got ${k}`);
  if (k > E) throw new SplitError(`--top-k ${k} is larger than --experts ${E}`);
  if ((DATA_METHODS.has(o.method) || isDataGateInit(gateInit)) && !o.data && !(o as { calibration?: unknown }).calibration) throw new SplitError(`method '${o.method}'${isDataGateInit(gateInit) ? ` with --gate-init ${gateInit}` : ''} needs calibration data (--data)`);
  if (o.recalibrate && o.method !== 'carve') throw new SplitError(`--recalibrate applies to --method carve only (got --method ${o.method})`);
  if (o.recalibrate && !isDataGateInit(gateInit)) throw new SplitError(`--recalibrate fits the experts' scales under a router computed from data; --gate-init ${gateInit} is not one`);
  // The fitted row scale assumes scores linear in x; an MLP gate's tanh would bend them.
  if (o.method === 'carve' && o.gateNetwork === 'mlp') throw new SplitError("--method carve fits a linear router; --gate-network mlp cannot hold it (drop --gate-network, or pass linear)");
  if (o.dropRatio !== undefined && o.method !== 'drop-upcycle') throw new SplitError(`--drop-ratio applies to --method drop-upcycle only (got --method ${o.method})`);
  if (o.dropRatio !== undefined && !(o.dropRatio >= 0 && o.dropRatio <= 1)) throw new SplitError(`--drop-ratio must be in [0, 1], got ${o.dropRatio}`);
  if (o.sharedSize !== undefined && (!Number.isInteger(o.sharedSize) || o.sharedSize < 0)) throw new SplitError(`--shared-size must be a non-negative integer, got ${o.sharedSize}`);
  if (o.data && !fs.existsSync(o.data)) throw new SplitError(`calibration data ${o.data} does not exist`);
  let sizes: number[];
  let carveShared = 0;
  if (o.method === 'upcycle' || o.method === 'drop-upcycle') {
    sizes = new Array<number>(E).fill(F);
  } else if (o.method === 'carve') {
    carveShared = o.sharedSize ?? defaultCarveSharedSize(F, E);
    if (carveShared > F - E) throw new SplitError(`--shared-size ${carveShared} leaves fewer than ${E} neurons of intermediate_size ${F} for ${E} routed experts`);
    sizes = o.sizeExperts ?? carveSizes(F, E, carveShared);
    if (sizes.length !== E || sizes.reduce((a, b) => a + b, 0) !== F - carveShared) throw new SplitError(`size_experts must list ${E} sizes summing to ${F - carveShared} (intermediate_size minus the shared expert)`);
  } else if (o.method === 'sharing-inner') {
    sizes = o.sizeExperts ?? (F % E === 0 ? new Array<number>(E).fill(F / E) : []);
    if (!sizes.length) throw new SplitError(`intermediate_size ${F} is not divisible by ${E} experts; pass size_experts explicitly`);
  } else if (o.method === 'sharing-inter') {
    if (o.sharedSize !== undefined && o.sharedSize < 1) throw new SplitError('--shared-size must be at least 1 for --method sharing-inter');
    const shared = sharingInterSharedSize(F, E, o.sharedSize, o.sizeExperts);
    const rest = F - shared;
    sizes = o.sizeExperts ?? (rest % E === 0 ? new Array<number>(E).fill(rest / E) : []);
    if (!sizes.length) throw new SplitError(`intermediate_size ${F} minus ${shared} shared neurons (--shared-size) is not divisible by ${E} experts; pass a shared size that leaves a multiple of ${E}, or --expert-sizes`);
    if (sizes.reduce((a, b) => a + b, 0) + shared !== F) throw new SplitError(`--expert-sizes sum to ${sizes.reduce((a, b) => a + b, 0)} and --shared-size is ${shared}; together they must be intermediate_size ${F}`);
  } else {
    try {
      sizes = resolveSizes(F, E, o.sizeExperts ?? null);
    } catch (e) {
      throw new SplitError((e as Error).message);
    }
  }
  const base = defaultMoeSpec(L, F, E, k);
  // carve's routers are closed-form linear maps, so its gate is linear unless asked otherwise.
  const gateNetwork = format === 'mixtral' ? 'linear' : (o.gateNetwork ?? (o.method === 'carve' ? 'linear' : 'mlp'));
  const spec: MoeSpec = {
    ...base,
    gateNetwork,
    sizeExperts: Array.from({ length: L }, () => [...sizes]),
    // carve: a token's k experts are the ones holding most of its activation, so each should count about
    // as in the dense FFN: softmax weights (≈ 1/k with the fitted router scale) × k ≈ 1.
    scoreScaleFactor: o.scoreScale ?? (o.method === 'carve' ? k : E / k),
    ...(o.gateType === 'SwitchBalancedGate' ? { gateType: 'SwitchBalancedGate' as const, calculatorType: 'SwitchDropTokenCalculator' as const } : {}),
    // Expert choice: on average k experts per token unless a capacity factor is given.
    ...(o.gateType === 'ExpertChoiceGate' ? { gateType: 'ExpertChoiceGate' as const, capacityFactor: k } : {}),
    ...(o.capacityFactor !== undefined ? { capacityFactor: o.capacityFactor } : {}),
    ...(o.balanceLossWeight !== undefined ? { gateBalanceLossWeight: o.balanceLossWeight } : {}),
    ...(o.zLossWeight !== undefined ? { gateZLossWeight: o.zLossWeight } : {}),
    sizeSharedExperts: o.method === 'sharing-inter' ? Array.from({ length: L }, () => [sharingInterSharedSize(F, E, o.sharedSize, o.sizeExperts)])
      : o.method === 'carve' && carveShared > 0 ? Array.from({ length: L }, () => [carveShared]) : [],
  };
  if (spec.gateType === 'SwitchBalancedGate' && k !== 1) throw new SplitError(`the switch gate routes every token to one expert; pass --top-k 1, not ${k}`);
  if (!(spec.capacityFactor > 0)) throw new SplitError(`--capacity-factor must be a positive number, got ${spec.capacityFactor}`);
  if (!(spec.gateZLossWeight >= 0)) throw new SplitError(`--z-loss-weight must be >= 0, got ${spec.gateZLossWeight}`);
  if (format === 'mixtral' && spec.gateZLossWeight > 0) throw new SplitError('--format mixtral: config.json has no z-loss key; use --format llama-moe for --z-loss-weight');
  if (!(spec.gateBalanceLossWeight >= 0)) throw new SplitError(`--balance-loss-weight must be >= 0, got ${spec.gateBalanceLossWeight}`);
  if (!(Number.isFinite(scoreScaleAt(spec, 0)) && scoreScaleAt(spec, 0) > 0)) throw new SplitError(`--score-scale must be a positive number, got ${o.scoreScale}`);
  if (format === 'mixtral') {
    const why = mixtralIncompatibility(cfg, spec);
    if (why) throw new SplitError(`--format mixtral: ${why}`);
  }
  const src = (cfg.torch_dtype ?? 'float32') as string;
  const dtype = o.dtype ?? (['float32', 'bfloat16', 'float16'].includes(src) ? (src as SaveDType) : 'float32');
  return { spec, format, gateInit, dtype, sizes };
}

/** The partition of one layer for the weight-only methods. */
export function weightOnlyPartition(method: PartitionMethod, upProj: Float32Array | null, F: number, D: number, sizes: number[], seed: number, layer: number, metric: 'l2' | 'cos'): NeuronPartition {
  if (method === 'random') return randomPartition(F, sizes, { seed, layer });
  if (method === 'upcycle') return upcyclePartition(F, sizes.length);
  if (method === 'drop-upcycle') return { ...upcyclePartition(F, sizes.length), method };
  if (method === 'clustering') return clusteringPartition(upProj!, F, D, sizes, { seed, layer, metric });
  throw new SplitError(`method '${method}' needs calibration data`);
}

const STORAGE = { float32: 'F32', bfloat16: 'BF16', float16: 'F16' } as const;

/** f32 values in the target storage: as is, or rounded to bf16/f16 bits (nearest even). */
function encodeF32(d: Float32Array, target: 'F32' | 'BF16' | 'F16'): Float32Array | Uint16Array {
  return target === 'F32' ? d : target === 'BF16' ? f32ToBf16(d) : f32ToF16(d);
}

/** A tensor copied from the dense checkpoint: raw bytes when the dtype is unchanged (bit-identical). */
function passThrough(ckpt: Checkpoint, name: string, dtype: SaveDType): SafetensorsTensorInput {
  const info = ckpt.info(name);
  // Same dtype: stream the bytes through one reused buffer (no per-tensor allocation, bit-identical).
  if (info.dtype === STORAGE[dtype]) return { name, dtype: STORAGE[dtype], shape: info.shape, data: () => ckpt.readRaw(name), chunks: () => ckpt.rawChunks(name) };
  return toSafetensorsInput(name, () => new Tensor(ckpt.readF32(name), info.shape), dtype);
}

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.model'];

/** Streaming split for weight-only methods (random, clustering, upcycle; random or zero gates). */
export function splitStreaming(o: SplitOptions): SplitResult {
  const t0 = performance.now();
  const cfg = readLlamaConfig(o.model);
  const { spec, format, gateInit, dtype, sizes } = validateSplitOptions(o, cfg);
  if (DATA_METHODS.has(o.method) || isDataGateInit(gateInit) || o.method === 'drop-upcycle') throw new SplitError(`method '${o.method}' with gate init '${gateInit}' cannot stream; use splitModel()`);
  const ckpt = openCheckpoint(o.model);
  const L = cfg.num_hidden_layers, D = cfg.hidden_size, F = cfg.intermediate_size, E = o.experts;
  const seed = o.seed ?? 0;
  const target = STORAGE[dtype];
  const partitions: number[][][] = new Array(L);
  const noise = o.method === 'upcycle' ? (o.upcycleNoise ?? 0) : 0;

  const ffnNames = (l: number): [string, string, string] => {
    const p = `model.layers.${l}.mlp`;
    return [`${p}.gate_proj.weight`, `${p}.up_proj.weight`, `${p}.down_proj.weight`];
  };
  for (let l = 0; l < L; l++) {
    for (const n of ffnNames(l)) {
      const sh = ckpt.info(n).shape;
      const want = n.endsWith('down_proj.weight') ? [D, F] : [F, D];
      if (sh.length !== 2 || sh[0] !== want[0] || sh[1] !== want[1]) throw new SplitError(`${o.model}: tensor '${n}' has shape [${sh.join(', ')}], expected [${want.join(', ')}]`);
    }
  }
  const scaleAt = (l: number) => (format === 'mixtral' ? scoreScaleAt(spec, l) : 1);
  /**
   * Raw layers keep the stored 16-bit patterns (no arithmetic, so no conversion and bit-exact
   * experts): gate/up experts are written straight from the dense rows with writev, and only
   * down's columns are gathered.
   */
  const rawLayer = (l: number) => ffnNames(l).every((n) => ckpt.info(n).dtype === target) && (target === 'BF16' || target === 'F16') && noise === 0 && scaleAt(l) === 1;

  /**
   * One layer's experts, computed when the writer asks for the layer's first expert tensor and
   * dropped when it moves on: memory stays at one FFN layer whatever the model size. Raw buffers
   * (dense matrices read as bytes, gathered down experts) are reused from layer to layer: every
   * layer has the same shapes, and a layer is fully written before the next one is read.
   */
  interface LayerExperts {
    layer: number;
    parts: Int32Array[];
    /** Raw layers: dense gate/up bytes, [F, D] each, that the gate/up experts' rows are written from. */
    rawRows: { gate: Uint8Array; up: Uint8Array } | null;
    /** Everything else, by output tensor name: f32 values or raw 16-bit patterns. */
    tensors: Map<string, Float32Array | Uint16Array>;
  }
  let cached: LayerExperts | null = null;
  const rawScratch = new Map<string, Uint8Array>();
  const downScratch: Uint16Array[] = [];
  const expertName = (l: number, role: 'gate' | 'up' | 'down', j: number) =>
    format === 'mixtral' ? mixtralNames.expert(l, j, role === 'gate' ? 'w1' : role === 'up' ? 'w3' : 'w2') : llamaMoeNames.expert(l, role, j);
  const layerExperts = (l: number): LayerExperts => {
    if (cached?.layer === l) return cached;
    cached = null;
    o.onProgress?.({ layer: l, layers: L, phase: 'split' });
    const names = ffnNames(l);
    const sc = scaleAt(l);
    const raw = rawLayer(l);
    const loadRaw = (n: string): Uint8Array => {
      const role = n.slice(n.lastIndexOf('.mlp.') + 5);
      const bytes = ckpt.info(n).shape.reduce((a, d) => a * d, 2);
      let b = rawScratch.get(role);
      if (!b || b.byteLength !== bytes) rawScratch.set(role, (b = new Uint8Array(bytes)));
      return ckpt.readRawInto(n, b);
    };
    const u16 = (b: Uint8Array) => new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
    /** [F, D] */ const gate = raw ? loadRaw(names[0]) : ckpt.readF32(names[0]);
    /** [F, D] */ const up = raw ? loadRaw(names[1]) : ckpt.readF32(names[1]);
    /** [D, F] */ const down = raw ? u16(loadRaw(names[2])) : ckpt.readF32(names[2]);
    const upF32 = o.method === 'clustering' ? (raw ? ckpt.readF32(names[1]) : (up as Float32Array)) : null;
    const part = weightOnlyPartition(o.method, upF32, F, D, sizes, seed, l, o.metric ?? 'cos');
    partitions[l] = part.experts.map((e) => Array.from(e));
    const parts = part.experts.map((e) => Int32Array.from(e));
    const tensors = new Map<string, Float32Array | Uint16Array>();
    if (raw) {
      const into = parts.map((idx, j) => {
        if (downScratch[j]?.length !== idx.length * D) downScratch[j] = new Uint16Array(idx.length * D);
        return downScratch[j]!;
      });
      takeColsMany(down as Uint16Array, D, F, parts, into).forEach((d, j) => tensors.set(expertName(l, 'down', j), d));
      cached = { layer: l, parts, rawRows: { gate: gate as Uint8Array, up: up as Uint8Array }, tensors };
      return cached;
    }
    const rng = createRng(mixSeed(seed, l, 0x4e4f4953));
    const perturb = (a: Float32Array) => {
      if (!noise) return a;
      let ss = 0;
      for (let i = 0; i < a.length; i++) ss += a[i]! * a[i]!;
      const sd = Math.sqrt(ss / a.length) * noise;
      for (let i = 0; i < a.length; i++) a[i]! += rng.normal() * sd;
      return a;
    };
    const downs = takeColsMany(down as Float32Array, D, F, parts);
    parts.forEach((idx, j) => {
      // Noise is drawn gate, up, down per expert (the order upcycled checkpoints were made with).
      tensors.set(expertName(l, 'gate', j), perturb(takeRows(gate as Float32Array, D, idx)));
      tensors.set(expertName(l, 'up', j), perturb(takeRows(up as Float32Array, D, idx)));
      const d = perturb(downs[j]!);
      if (sc !== 1) for (let i = 0; i < d.length; i++) d[i]! *= sc;
      tensors.set(expertName(l, 'down', j), d);
    });
    cached = { layer: l, parts, rawRows: null, tensors };
    return cached;
  };
  const expertInput = (l: number, role: 'gate' | 'up' | 'down', j: number, shape: number[]): SafetensorsTensorInput => {
    const name = expertName(l, role, j);
    const input: SafetensorsTensorInput = {
      name, dtype: target, shape,
      data: () => {
        const t = layerExperts(l).tensors.get(name)!;
        return t instanceof Uint16Array ? t : encodeF32(t, target);
      },
    };
    if (role !== 'down' && rawLayer(l)) {
      // The expert's rows, straight from the dense matrix: writev batches of row views, no copy.
      input.chunks = function* () {
        const lt = layerExperts(l);
        const src = lt.rawRows![role];
        const idx = lt.parts[j]!;
        const rowBytes = D * 2;
        for (let i = 0; i < idx.length; i += 1024) {
          const views: Uint8Array[] = [];
          for (let k = i; k < Math.min(idx.length, i + 1024); k++) views.push(src.subarray(idx[k]! * rowBytes, idx[k]! * rowBytes + rowBytes));
          yield views;
        }
      };
    }
    return input;
  };
  const gateInput = (l: number, name: string, r: number, c: number, zero = false): SafetensorsTensorInput => ({
    name, dtype: target, shape: [r, c],
    data: () => {
      const d = new Float32Array(r * c);
      if (!zero && gateInit === 'random') {
        // Per tensor seed: the gate does not depend on the order tensors are written in.
        const g = createRng(mixSeed(seed, l, name.length * 131 + r * 7 + c));
        for (let i = 0; i < d.length; i++) d[i] = g.normal() * 0.02;
      }
      return encodeF32(d, target);
    },
  });

  // The whole write plan, in transformers' state_dict order; data is produced lazily, in order.
  const plan: SafetensorsTensorInput[] = [passThrough(ckpt, 'model.embed_tokens.weight', dtype)];
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    for (const n of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) {
      plan.push(passThrough(ckpt, `${p}.self_attn.${n}.weight`, dtype));
      if (cfg.attention_bias) plan.push(passThrough(ckpt, `${p}.self_attn.${n}.bias`, dtype));
    }
    if (format === 'mixtral') {
      plan.push(gateInput(l, mixtralNames.gate(l), E, D));
      sizes.forEach((s, j) => plan.push(expertInput(l, 'gate', j, [s, D]), expertInput(l, 'down', j, [D, s]), expertInput(l, 'up', j, [s, D])));
    } else {
      if (spec.gateNetwork === 'mlp') plan.push(gateInput(l, llamaMoeNames.gateNetwork(l, 0), E, D), gateInput(l, llamaMoeNames.gateNetwork(l, 2), E, E));
      else plan.push(gateInput(l, llamaMoeNames.gateNetwork(l, null), E, D));
      // Only the noisy top-k gate has a noise network (the switch gate's noise is Gumbel, parameter-free).
      if (spec.gateType === 'TopKBalancedNoisyGate') plan.push(gateInput(l, llamaMoeNames.weightNoise(l), E, D, true));
      for (const role of ['gate', 'up', 'down'] as const) sizes.forEach((s, j) => plan.push(expertInput(l, role, j, role === 'down' ? [D, s] : [s, D])));
    }
    plan.push(passThrough(ckpt, `${p}.input_layernorm.weight`, dtype), passThrough(ckpt, `${p}.post_attention_layernorm.weight`, dtype));
  }
  plan.push(passThrough(ckpt, 'model.norm.weight', dtype));
  if (!cfg.tie_word_embeddings) plan.push(passThrough(ckpt, 'lm_head.weight', dtype));

  try {
    const specOut = format === 'mixtral' ? { ...spec, scoreScaleFactor: 1 } : spec;
    // The same writer as saveMoeModel; the plan (names, dtypes, shapes known up front) is written in one pass per shard.
    writeCheckpointFolder(o.out, {
      tensors: plan, configJson: moeConfigJson(cfg, specOut, format, dtype), generationConfigJson: generationConfigJson(cfg),
      // The partitions are computed layer by layer while the shards are written.
      extraFiles: () => ({
        [PARTITION_FILE]: JSON.stringify({
          method: o.method, format_version: 1, seed, experts: o.method === 'upcycle' ? null : partitions, shared_experts: null,
          folded_score_scale: format === 'mixtral' ? spec.scoreScaleFactor : null,
        }) + '\n',
      }), copyFrom: { dir: o.model, files: TOKENIZER_FILES },
      maxShardBytes: o.maxShardBytes, overwrite: o.overwrite,
    });
    cached = null;
  } finally {
    ckpt.close();
  }
  return { out: o.out, format, method: o.method, layers: L, spec, seconds: (performance.now() - t0) / 1000, streamed: true };
}
