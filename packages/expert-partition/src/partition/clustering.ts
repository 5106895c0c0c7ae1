/**
 * `clustering` (LLaMA-MoE "Independent_Clustering"): balanced k-means over the L2-normalised rows
 * of up_proj ([F, D], Hugging Face layout), one cluster per expert, cluster j of size sizes[j].
 */
import { createRng } from '@llama-moe/tensor-core';
import { checkFloatBuffer, checkPositiveInt } from './errors.js';
import { balancedKMeans, type KMeansMetric } from './kmeans.js';
import { resolveSizes } from './sizes.js';
import type { NeuronPartition } from './types.js';
import { expertsFromLabels } from './validate.js';

export interface ClusteringPartitionOptions {
  metric?: KMeansMetric;
  seed?: number;
  layer?: number;
  maxIter?: number;
  tol?: number;
}

/** Row-wise L2 normalisation into a new buffer (sklearn Normalizer: zero rows stay zero). */
export function normalizeRows(w: Float32Array, rows: number, cols: number): Float32Array {
  /** [rows, cols] */
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const o = i * cols;
    let s = 0;
    for (let p = 0; p < cols; p++) s += w[o + p]! * w[o + p]!;
    if (s === 0) continue;
    const inv = 1 / Math.sqrt(s);
    for (let p = 0; p < cols; p++) out[o + p] = w[o + p]! * inv;
  }
  return out;
}

/** upProj: [F, D] row-major `mlp.up_proj.weight`. `sizes` resolved (Σ = F). */
export function clusteringPartition(upProj: Float32Array, F: number, D: number, sizes: readonly number[], opts: ClusteringPartitionOptions = {}): NeuronPartition {
  const op = 'clusteringPartition';
  checkPositiveInt(op, 'intermediate_size', F, opts.layer);
  checkPositiveInt(op, 'hidden_size', D, opts.layer);
  checkFloatBuffer(op, 'up_proj.weight', upProj, F * D, `[${F}, ${D}]`, opts.layer);
  resolveSizes(F, sizes.length, sizes, { layer: opts.layer });
  const x = normalizeRows(upProj, F, D);
  const km = balancedKMeans(x, F, D, sizes, opts);
  return {
    method: 'clustering',
    sizes: [...sizes],
    experts: expertsFromLabels(km.labels, sizes),
    overlap: false,
    centroids: km.centroids,
    objectiveHistory: km.objectiveHistory,
  };
}

export interface BenchClusteringOptions {
  F: number;
  D: number;
  E: number;
  seed?: number;
  maxIter?: number;
  metric?: KMeansMetric;
}

/**
 * Wall seconds of one `clusteringPartition` call on random Gaussian up_proj data [F, D] split into
 * E equal experts (data generation excluded). Unstructured data is the slow case: k-means runs to
 * `maxIter` (default 20) instead of converging early.
 */
export function benchClustering(opts: BenchClusteringOptions): number {
  const { F, D, E, seed = 0, maxIter = 20, metric = 'l2' } = opts;
  const rng = createRng(seed);
  /** [F, D] */
  const w = new Float32Array(F * D);
  for (let t = 0; t < w.length; t++) w[t] = rng.normal() * 0.02;
  const sizes = resolveSizes(F, E);
  const t0 = performance.now();
  clusteringPartition(w, F, D, sizes, { seed, maxIter, metric, tol: 0 });
  return (performance.now() - t0) / 1000;
}
