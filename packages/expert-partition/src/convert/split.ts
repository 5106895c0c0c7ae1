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
import * as path from 'node:path';
import { createRng } from '@llama-moe/tensor-core';
import {
  ShardedCheckpointWriter, atomicWriteFile, generationConfigJson, openCheckpoint, pyJsonDumps, readLlamaConfig, saveModelFolder, toSafetensorsInput,
  type Checkpoint, type LlamaConfig, type SafetensorsTensorInput, type SaveDType,
} from '@llama-moe/llama-model';
import { Tensor } from '@llama-moe/tensor-core';
import { llamaMoeConfigJson, llamaMoeNames } from '../formats/llama-moe.js';
import { FormatError, mixtralConfigJson, mixtralIncompatibility, mixtralNames } from '../formats/mixtral.js';
import { defaultMoeSpec, scoreScaleAt, type MoeSpec } from '../formats/moe-spec.js';
import { PARTITION_FILE, takeCols, takeRows, type GateInit, type MoeFormat } from '../moe/moe-model.js';
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
  /** Per-expert sizes (unequal experts), applied to every layer. */
  sizeExperts?: number[];
  /** sharing-inter: neurons moved into always-on shared experts (default F/E). */
  sharedSize?: number;
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
}

export class SplitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SplitError';
  }
}

const DATA_METHODS = new Set<PartitionMethod>(['graph', 'gradient', 'sharing-inner', 'sharing-inter']);

export function validateSplitOptions(o: SplitOptions, cfg: LlamaConfig): { spec: MoeSpec; format: MoeFormat; gateInit: GateInit; dtype: SaveDType; sizes: number[] } {
  if (!PARTITION_METHODS.includes(o.method)) throw new SplitError(`unknown method '${o.method}' (expected one of ${PARTITION_METHODS.join(', ')})`);
  const format = o.format ?? 'llama-moe';
  if (format !== 'llama-moe' && format !== 'mixtral') throw new SplitError(`unknown format '${String(format)}' (expected llama-moe or mixtral)`);
  const gateInit = o.gateInit ?? 'random';
  if (!['random', 'zeros', 'centroids'].includes(gateInit)) throw new SplitError(`unknown gate init '${gateInit}' (expected random, zeros or centroids)`);
  if (cfg.model_type !== 'llama' && cfg.model_type !== 'mistral') throw new SplitError(`${o.model}: model_type '${cfg.model_type}' is not a dense LLaMA (split expects llama or mistral)`);
  if (cfg.mlp_bias) throw new SplitError(`${o.model}: mlp_bias is set; LLaMA-MoE experts have no biases`);
  const E = o.experts, k = o.topK, F = cfg.intermediate_size, L = cfg.num_hidden_layers;
  if (!Number.isInteger(E) || E < 1) throw new SplitError(`--experts must be a positive integer, got ${E}`);
  if (!Number.isInteger(k) || k < 1) throw new SplitError(`--top-k must be a positive integer, got ${k}`);
  if (k > E) throw new SplitError(`--top-k ${k} is larger than --experts ${E}`);
  if ((DATA_METHODS.has(o.method) || gateInit === 'centroids') && !o.data && !(o as { calibration?: unknown }).calibration) throw new SplitError(`method '${o.method}'${gateInit === 'centroids' ? ' with --gate-init centroids' : ''} needs calibration data (--data)`);
  if (o.data && !fs.existsSync(o.data)) throw new SplitError(`calibration data ${o.data} does not exist`);
  let sizes: number[];
  if (o.method === 'upcycle') {
    sizes = new Array<number>(E).fill(F);
  } else if (o.method === 'sharing-inner') {
    sizes = o.sizeExperts ?? (F % E === 0 ? new Array<number>(E).fill(F / E) : []);
    if (!sizes.length) throw new SplitError(`intermediate_size ${F} is not divisible by ${E} experts; pass size_experts explicitly`);
  } else if (o.method === 'sharing-inter') {
    const shared = o.sharedSize ?? Math.floor(F / E);
    const rest = F - shared;
    sizes = o.sizeExperts ?? (rest % E === 0 ? new Array<number>(E).fill(rest / E) : []);
    if (!sizes.length) throw new SplitError(`intermediate_size ${F} minus ${shared} shared neurons is not divisible by ${E} experts; pass size_experts or a different shared size`);
  } else {
    try {
      sizes = resolveSizes(F, E, o.sizeExperts ?? null);
    } catch (e) {
      throw new SplitError((e as Error).message);
    }
  }
  const base = defaultMoeSpec(L, F, E, k);
  const gateNetwork = format === 'mixtral' ? 'linear' : (o.gateNetwork ?? 'mlp');
  const spec: MoeSpec = {
    ...base,
    gateNetwork,
    sizeExperts: Array.from({ length: L }, () => [...sizes]),
    scoreScaleFactor: o.scoreScale ?? E / k,
    sizeSharedExperts: o.method === 'sharing-inter' ? Array.from({ length: L }, () => [o.sharedSize ?? Math.floor(F / E)]) : [],
  };
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
  if (method === 'clustering') return clusteringPartition(upProj!, F, D, sizes, { seed, layer, metric });
  throw new SplitError(`method '${method}' needs calibration data`);
}

const STORAGE = { float32: 'F32', bfloat16: 'BF16', float16: 'F16' } as const;

/** A tensor copied from the dense checkpoint: raw bytes when the dtype is unchanged (bit-identical). */
function passThrough(ckpt: Checkpoint, name: string, dtype: SaveDType): SafetensorsTensorInput {
  const info = ckpt.info(name);
  if (info.dtype === STORAGE[dtype]) return { name, dtype: STORAGE[dtype], shape: info.shape, data: () => ckpt.readRaw(name) };
  return toSafetensorsInput(name, () => new Tensor(ckpt.readF32(name), info.shape), dtype);
}

function copyTokenizerFiles(from: string, to: string): void {
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.model']) {
    if (fs.existsSync(path.join(from, f))) fs.copyFileSync(path.join(from, f), path.join(to, f));
  }
}

/** Streaming split for weight-only methods (random, clustering, upcycle; random or zero gates). */
export function splitStreaming(o: SplitOptions): SplitResult {
  const t0 = performance.now();
  const cfg = readLlamaConfig(o.model);
  const { spec, format, gateInit, dtype, sizes } = validateSplitOptions(o, cfg);
  if (DATA_METHODS.has(o.method) || gateInit === 'centroids') throw new SplitError(`method '${o.method}' with gate init '${gateInit}' cannot stream; use split()`);
  const ckpt = openCheckpoint(o.model);
  const L = cfg.num_hidden_layers, D = cfg.hidden_size, F = cfg.intermediate_size, E = o.experts;
  const seed = o.seed ?? 0;
  const partitions: number[][][] = [];
  try {
    saveModelFolder(o.out, (staging) => {
      const w = new ShardedCheckpointWriter(staging, { maxShardBytes: o.maxShardBytes, metadata: { format: 'pt' } });
      try {
        w.add(passThrough(ckpt, 'model.embed_tokens.weight', dtype));
        for (let l = 0; l < L; l++) {
          o.onProgress?.({ layer: l, layers: L, phase: 'split' });
          const p = `model.layers.${l}`;
          for (const n of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) {
            w.add(passThrough(ckpt, `${p}.self_attn.${n}.weight`, dtype));
            if (cfg.attention_bias) w.add(passThrough(ckpt, `${p}.self_attn.${n}.bias`, dtype));
          }
          /** [F, D] */ const gate = ckpt.readF32(`${p}.mlp.gate_proj.weight`);
          /** [F, D] */ const up = ckpt.readF32(`${p}.mlp.up_proj.weight`);
          /** [D, F] */ const down = ckpt.readF32(`${p}.mlp.down_proj.weight`);
          if (gate.length !== F * D || up.length !== F * D || down.length !== D * F) throw new SplitError(`${o.model}: layer ${l} FFN shapes do not match intermediate_size ${F} and hidden_size ${D}`);
          const part = weightOnlyPartition(o.method, up, F, D, sizes, seed, l, o.metric ?? 'cos');
          partitions.push(part.experts.map((e) => Array.from(e)));
          const rng = createRng(mixSeed(seed, l, 0x47415445));
          const noise = o.method === 'upcycle' ? (o.upcycleNoise ?? 0) : 0;
          const perturb = (a: Float32Array) => {
            if (!noise) return a;
            let ss = 0;
            for (let i = 0; i < a.length; i++) ss += a[i]! * a[i]!;
            const sd = Math.sqrt(ss / a.length) * noise;
            for (let i = 0; i < a.length; i++) a[i]! += rng.normal() * sd;
            return a;
          };
          const sc = format === 'mixtral' ? scoreScaleAt(spec, l) : 1;
          const gateMat = (r: number, c: number) => {
            const d = new Float32Array(r * c);
            if (gateInit === 'random') for (let i = 0; i < d.length; i++) d[i] = rng.normal() * 0.02;
            return new Tensor(d, [r, c]);
          };
          const st = (name: string, data: Float32Array, shape: number[]) => w.add(toSafetensorsInput(name, new Tensor(data, shape), dtype));
          const expertTensors = part.experts.map((idx) => ({
            gate: perturb(takeRows(gate, D, idx)),
            up: perturb(takeRows(up, D, idx)),
            down: (() => { const d = perturb(takeCols(down, D, F, idx)); if (sc !== 1) for (let i = 0; i < d.length; i++) d[i]! *= sc; return d; })(),
            s: idx.length,
          }));
          if (format === 'mixtral') {
            st(mixtralNames.gate(l), gateMat(E, D).f32(), [E, D]);
            expertTensors.forEach((e, j) => {
              st(mixtralNames.expert(l, j, 'w1'), e.gate, [e.s, D]);
              st(mixtralNames.expert(l, j, 'w2'), e.down, [D, e.s]);
              st(mixtralNames.expert(l, j, 'w3'), e.up, [e.s, D]);
            });
          } else {
            if (spec.gateNetwork === 'mlp') {
              st(llamaMoeNames.gateNetwork(l, 0), gateMat(E, D).f32(), [E, D]);
              st(llamaMoeNames.gateNetwork(l, 2), gateMat(E, E).f32(), [E, E]);
            } else {
              st(llamaMoeNames.gateNetwork(l, null), gateMat(E, D).f32(), [E, D]);
            }
            st(llamaMoeNames.weightNoise(l), new Float32Array(E * D), [E, D]);
            expertTensors.forEach((e, j) => st(llamaMoeNames.expert(l, 'gate', j), e.gate, [e.s, D]));
            expertTensors.forEach((e, j) => st(llamaMoeNames.expert(l, 'up', j), e.up, [e.s, D]));
            expertTensors.forEach((e, j) => st(llamaMoeNames.expert(l, 'down', j), e.down, [D, e.s]));
          }
          w.add(passThrough(ckpt, `${p}.input_layernorm.weight`, dtype));
          w.add(passThrough(ckpt, `${p}.post_attention_layernorm.weight`, dtype));
        }
        w.add(passThrough(ckpt, 'model.norm.weight', dtype));
        if (!cfg.tie_word_embeddings) w.add(passThrough(ckpt, 'lm_head.weight', dtype));
        w.finish();
      } catch (e) {
        w.abort();
        throw e;
      }
      const specOut = format === 'mixtral' ? { ...spec, scoreScaleFactor: 1 } : spec;
      const configJson = format === 'mixtral' ? mixtralConfigJson(cfg, specOut, dtype) : llamaMoeConfigJson(cfg, specOut, dtype);
      atomicWriteFile(path.join(staging, 'config.json'), pyJsonDumps(configJson) + '\n');
      atomicWriteFile(path.join(staging, 'generation_config.json'), pyJsonDumps(generationConfigJson(cfg)) + '\n');
      const partitionFile = {
        method: o.method, format_version: 1, seed,
        experts: o.method === 'upcycle' ? null : partitions,
        shared_experts: null,
        folded_score_scale: format === 'mixtral' ? spec.scoreScaleFactor : null,
      };
      atomicWriteFile(path.join(staging, PARTITION_FILE), JSON.stringify(partitionFile) + '\n');
      copyTokenizerFiles(o.model, staging);
    }, { overwrite: o.overwrite });
  } finally {
    ckpt.close();
  }
  if (format === 'mixtral' && spec.gateNetwork !== 'linear') throw new FormatError('internal: mixtral needs a linear gate');
  return { out: o.out, format, method: o.method, layers: L, spec, seconds: (performance.now() - t0) / 1000, streamed: true };
}
