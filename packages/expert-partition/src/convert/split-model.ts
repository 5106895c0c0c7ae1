/**
 * `splitModel`: the one entry point behind `llama-moe split`. Weight-only constructions stream
 * (see splitStreaming); data-driven ones (graph, gradient, sharing-inner, sharing-inter, centroid
 * gates) load the dense model, run calibration passes and build the MoE in memory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadLlama, readLlamaConfig, type LlamaForCausalLM } from '@llama-moe/llama-model/node';
import { buildMoeFromDense } from '../moe/build.js';
import { isDataGateInit } from '../moe/gate-init.js';
import { saveMoeModel } from '../moe/moe-files.js';
import { CoActivationAccumulator } from '../partition/coactivation.js';
import { ImportanceAccumulator } from '../partition/importance.js';
import { balancedKMeans } from '../partition/kmeans.js';
import { partitionLayer } from '../partition/partition-layer.js';
import type { NeuronPartition } from '../partition/types.js';
import { calibrate } from './calibrate.js';
import { collectActivationStats, collectRouterCalibration, dataRouters, type LayerRouterFit } from './data-routers.js';
import { DEFAULT_DROP_RATIO, SplitError, splitStreaming, validateSplitOptions, weightOnlyPartition, type SplitOptions, type SplitResult } from './split.js';

export interface CalibrationData {
  /** Token sequences, each [seqLen] (int32); one calibration batch each. */
  sequences: Int32Array[];
  /** Data cluster of each sequence (gradient methods: expert j ↔ cluster j); computed by k-means when absent. */
  clusters?: Int32Array;
}

export interface SplitModelOptions extends SplitOptions {
  calibration?: CalibrationData;
}

const NEEDS_DATA = new Set(['graph', 'gradient', 'sharing-inner', 'sharing-inter', 'carve']);

/** Mean input embedding of each sequence, clustered into E balanced groups (the gradient methods' data clusters). */
export function clusterSequences(model: LlamaForCausalLM, seqs: Int32Array[], E: number, seed: number): Int32Array {
  if (seqs.length < E) throw new SplitError(`the gradient methods need at least ${E} calibration sequences (one data cluster per expert), got ${seqs.length}; give more --data`);
  const D = model.config.hidden_size;
  const emb = model.weights.embed.f32();
  const x = new Float32Array(seqs.length * D);
  seqs.forEach((s, i) => {
    for (const id of s) for (let d = 0; d < D; d++) x[i * D + d]! += emb[id * D + d]! / s.length;
  });
  const base = Math.floor(seqs.length / E);
  const sizes = Array.from({ length: E }, (_, j) => base + (j < seqs.length - base * E ? 1 : 0));
  const r = balancedKMeans(x, seqs.length, D, sizes, { seed, metric: 'cos' });
  return Int32Array.from(r.labels);
}

function splitInMemory(o: SplitModelOptions): SplitResult {
  const t0 = performance.now();
  const cfg = readLlamaConfig(o.model);
  const { spec, format, gateInit, dtype, sizes } = validateSplitOptions(o, cfg);
  const seqs = o.calibration?.sequences ?? [];
  if ((NEEDS_DATA.has(o.method) || isDataGateInit(gateInit)) && seqs.length === 0) throw new SplitError(`method '${o.method}' needs calibration data (--data) and none was tokenised`);
  const seqLen = seqs[0]?.length ?? 0;
  if (seqs.some((s) => s.length !== seqLen)) throw new SplitError('calibration sequences must all have the same length');
  const dense = loadLlama(o.model);
  const L = cfg.num_hidden_layers, F = cfg.intermediate_size, D = cfg.hidden_size, E = o.experts;
  const seed = o.seed ?? 0;
  const parts: NeuronPartition[] = new Array(L);
  const progress = (layer: number, phase: string) => o.onProgress?.({ layer, layers: L, phase });
  if (o.method === 'carve') {
    const stats = collectActivationStats(dense, seqs, seqLen);
    const shared = spec.sizeSharedExperts[0] ?? [];
    for (let l = 0; l < L; l++) {
      progress(l, 'carve partition');
      parts[l] = partitionLayer('carve', { activation: stats[l]! }, { intermediateSize: F, hiddenSize: D, numExperts: E, sizeExperts: sizes, seed, layer: l, sharedSizes: shared.length ? shared : [0] });
    }
  } else if (o.method === 'graph') {
    const acc = Array.from({ length: L }, () => new CoActivationAccumulator(F));
    calibrate(dense, seqs, seqLen, { onActivation: (l, _x, h, N) => acc[l]!.add(h, N) });
    for (let l = 0; l < L; l++) {
      progress(l, 'graph partition');
      parts[l] = partitionLayer('graph', { coActivation: acc[l]! }, { intermediateSize: F, hiddenSize: D, numExperts: E, sizeExperts: sizes, seed, layer: l });
    }
  } else if (o.method === 'gradient' || o.method === 'sharing-inner' || o.method === 'sharing-inter') {
    const clusters = o.calibration?.clusters ?? clusterSequences(dense, seqs, E, seed);
    const acc = Array.from({ length: L }, () => new ImportanceAccumulator(F, E));
    calibrate(dense, seqs, seqLen, { onGradient: (l, h, dh, N, b) => acc[l]!.add(clusters[b]!, h, dh, N) }, { gradients: true });
    const shared = spec.sizeSharedExperts[0] ?? [];
    for (let l = 0; l < L; l++) {
      progress(l, `${o.method} partition`);
      parts[l] = partitionLayer(o.method, { importance: acc[l]! }, { intermediateSize: F, hiddenSize: D, numExperts: E, sizeExperts: sizes, seed, layer: l, sharedSizes: shared });
    }
  } else {
    for (let l = 0; l < L; l++) {
      progress(l, `${o.method} partition`);
      const up = (dense.weights.layers[l]!.mlp as unknown as { up: { f32(): Float32Array } }).up.f32();
      parts[l] = weightOnlyPartition(o.method, up, F, D, sizes, seed, l, o.metric ?? 'cos');
    }
  }
  let centroids: Float32Array[] | undefined;
  let expertScales: Float64Array[] | undefined;
  let fits: LayerRouterFit[] | undefined;
  if (isDataGateInit(gateInit)) {
    progress(0, `router (${gateInit})`);
    const cals = collectRouterCalibration(dense, seqs, seqLen, parts, { seed });
    const r = dataRouters(dense, parts, cals, { init: gateInit, fitScale: spec.gateNetwork === 'linear', recalibrate: o.recalibrate, topK: o.topK, scoreScale: typeof spec.scoreScaleFactor === 'number' ? spec.scoreScaleFactor : spec.scoreScaleFactor[0]!, seed });
    centroids = r.rows;
    expertScales = r.expertScales;
    fits = r.fits;
  }
  const moe = buildMoeFromDense(dense, {
    spec: { ...spec, sizeExperts: parts.map((p) => p.sizes), sizeSharedExperts: parts.some((p) => p.shared?.length) ? parts.map((p) => (p.shared ?? []).map((s) => s.length)) : [] },
    format, gateInit, centroids, expertScales, seed, method: o.method, upcycleNoise: o.upcycleNoise,
    ...(o.method === 'drop-upcycle' ? { dropRatio: o.dropRatio ?? DEFAULT_DROP_RATIO } : {}),
    partition: parts.map((p) => p.experts),
    sharedPartition: parts.some((p) => p.shared?.length) ? parts.map((p) => p.shared ?? []) : undefined,
  });
  const extraFiles: Record<string, unknown> = {};
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
    if (fs.existsSync(path.join(o.model, f))) extraFiles[f] = fs.readFileSync(path.join(o.model, f), 'utf8');
  }
  progress(L - 1, 'write');
  saveMoeModel(moe, o.out, { format, dtype, maxShardBytes: o.maxShardBytes, overwrite: o.overwrite, extraFiles });
  return { out: o.out, format, method: o.method, layers: L, spec, seconds: (performance.now() - t0) / 1000, streamed: false, ...(fits ? { routerFits: fits } : {}) };
}

export function splitModel(o: SplitModelOptions): SplitResult {
  const streams = !NEEDS_DATA.has(o.method) && o.method !== 'drop-upcycle' && !isDataGateInit(o.gateInit ?? 'random');
  return streams ? splitStreaming(o) : splitInMemory(o);
}
