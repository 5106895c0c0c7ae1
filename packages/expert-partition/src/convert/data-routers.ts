/**
 * The calibration passes behind `carve` and the data gate inits, as reusable steps (split-model
 * runs them once per split; tools/beyond-paper.mjs reuses the activation statistics across
 * configurations):
 *   1. `collectActivationStats`: top-K activation statistics of every layer (carve's partition);
 *   2. `collectRouterCalibration`: per layer, the FFN inputs and each expert's activation mass
 *      under a given partition (the router inits and fits);
 *   3. `dataRouters`: router rows per layer, and for carve the fitted row scale and, with
 *      --recalibrate, the per-expert output scales.
 */
import { DenseFeedForward, type LlamaForCausalLM } from '@llama-moe/llama-model';
import { ActivationStats } from '../partition/carve.js';
import type { NeuronPartition } from '../partition/types.js';
import { type GateInit } from '../moe/gate-init.js';
import { calibrate } from './calibrate.js';
import {
  RouterCalibration, centroidRows, fitExpertScales, fitRouterTemperature, fitTerms, kmeansRows, mostActiveNeurons, reconstructionError, representativeRows, ridgeRows, scaleRowsTo,
  type LayerFfn,
} from './router-fit.js';

export function collectActivationStats(model: LlamaForCausalLM, seqs: Int32Array[], seqLen: number, opts: { topFraction?: number } = {}): ActivationStats[] {
  const F = model.config.intermediate_size;
  const stats = model.weights.layers.map(() => new ActivationStats(F, opts));
  calibrate(model, seqs, seqLen, { onActivation: (l, _x, h, N) => stats[l]!.add(h, N) });
  return stats;
}

export function collectRouterCalibration(model: LlamaForCausalLM, seqs: Int32Array[], seqLen: number, parts: readonly NeuronPartition[], opts: { seed?: number; sampleTokens?: number } = {}): RouterCalibration[] {
  const D = model.config.hidden_size, F = model.config.intermediate_size;
  const cals = parts.map((p, l) => new RouterCalibration(D, F, p.experts, { seed: opts.seed, layer: l, sampleTokens: opts.sampleTokens }));
  calibrate(model, seqs, seqLen, { onActivation: (l, x, h, N) => cals[l]!.add(x, h, N) });
  return cals;
}

/** A dense layer's FFN weights and a partition, as the fits take them. */
export function layerFfn(model: LlamaForCausalLM, l: number, p: NeuronPartition): LayerFfn {
  const mlp = model.weights.layers[l]!.mlp;
  if (!(mlp instanceof DenseFeedForward)) throw new RangeError(`layer ${l} is not a dense FFN`);
  return { gate: mlp.gate.f32(), up: mlp.up.f32(), down: mlp.down.f32(), D: model.config.hidden_size, F: model.config.intermediate_size, experts: p.experts, shared: p.shared ?? [] };
}

export interface LayerRouterFit {
  /** Row scale α chosen by the temperature fit (carve), or null. */
  alpha: number | null;
  /** Mean squared reconstruction error of the layer's dense FFN output on the sampled tokens: with the fitted α, and after --recalibrate. */
  error: number | null;
  recalibratedError: number | null;
  /** ‖y_dense‖² per token, for relative errors. */
  denseNorm: number | null;
}

export interface DataRouters {
  /** Per layer [E, D] gate rows. */
  rows: Float32Array[];
  /** Per layer [1 + E] output scales (--recalibrate), else undefined. */
  expertScales?: Float64Array[];
  fits: LayerRouterFit[];
}

export interface DataRouterOptions {
  init: GateInit;
  /** Fit the row scale to the dense output (a linear gate: carve, Mixtral), instead of the fixed N(0, 0.02)-like norm (an MLP gate, whose tanh would bend a fitted scale). */
  fitScale: boolean;
  recalibrate?: boolean;
  topK: number;
  /** Score scale of every layer (the routed experts' combined weight is Σ scale·softmax). */
  scoreScale: number;
  seed?: number;
}

export function dataRouters(model: LlamaForCausalLM, parts: readonly NeuronPartition[], cals: readonly RouterCalibration[], o: DataRouterOptions): DataRouters {
  const D = model.config.hidden_size;
  const E = parts[0]!.experts.length;
  const rows: Float32Array[] = [];
  const scales: Float64Array[] = [];
  const fits: LayerRouterFit[] = [];
  parts.forEach((p, l) => {
    const cal = cals[l]!;
    const ffn = layerFfn(model, l, p);
    let r: Float32Array;
    switch (o.init) {
      case 'centroids': r = centroidRows(cal); break;
      case 'kmeans': r = kmeansRows(cal, o.seed ?? 0, l); break;
      case 'representative': r = representativeRows(ffn.gate, D, (p as { representatives?: Int32Array }).representatives ?? mostActiveNeurons(cal)); break;
      case 'ridge': r = ridgeRows(cal); break;
      default: throw new RangeError(`gate init '${o.init}' is not computed from data`);
    }
    if (!o.fitScale) {
      // Rows of the norm of a N(0, 0.02) row, the scale the paper's gates start from.
      rows.push(scaleRowsTo(r, E, D, 0.02 * Math.sqrt(D)));
      fits.push({ alpha: null, error: null, recalibratedError: null, denseNorm: null });
      return;
    }
    const T = fitTerms(ffn, cal.sample, cal.sampled, r, o.topK);
    const { alpha, error } = fitRouterTemperature(T, o.scoreScale);
    for (let i = 0; i < r.length; i++) r[i]! *= alpha;
    rows.push(r);
    let denseNorm = 0;
    for (let t = 0; t < T.n; t++) denseNorm += T.dd[t]!;
    denseNorm /= Math.max(T.n, 1);
    let recalibratedError: number | null = null;
    if (o.recalibrate) {
      const c = fitExpertScales(T, E, alpha, o.scoreScale);
      scales.push(c);
      recalibratedError = reconstructionError(T, alpha, o.scoreScale, c);
    }
    fits.push({ alpha, error, recalibratedError, denseNorm });
  });
  return { rows, ...(o.recalibrate ? { expertScales: scales } : {}), fits };
}
