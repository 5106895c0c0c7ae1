/** Dense → MoE: experts cut (or copied) from each dense FFN by a partition, with a fresh or data-fitted router. */
import { createRng, scale, Tensor } from '@llama-moe/tensor-core';
import { DenseFeedForward, LlamaForCausalLM } from '@llama-moe/llama-model';
import { MoeFeedForward, type ExpertWeights } from '@llama-moe/router/modules';
import { FormatError, mixtralIncompatibility } from '../formats/mixtral.js';
import { scoreScaleAt, type MoeSpec } from '../formats/moe-spec.js';
import { mixSeed } from '../partition/seed.js';
import { initGate, type GateInit } from './gate-init.js';
import { expertsFromDense } from './gather.js';
import { moeConfig, moeFfnOptions, type MoeFormat } from './moe-config.js';

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
