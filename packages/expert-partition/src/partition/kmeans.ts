/**
 * Balanced k-means (LLaMA-MoE "Independent_Clustering"; the reference runs k_means_constrained
 * with size_min = size_max = F/E on L2-normalised up_proj rows).
 *
 * Loop: k-means++ seeding → [distances by one [n, d]·[k, d]ᵀ GEMM through tensor-core's kernel
 * registry (a fast backend plugs in) → exact capacity-constrained assignment by auction
 * (assignment.ts) → centroid = mean of its points] until the assignment stops changing, the
 * relative objective decrease falls below `tol`, or `maxIter` assignment steps ran.
 *
 * Monotonicity: the centroid update minimises the within-cluster objective (`l2`: the mean;
 * `cos`: the mean of the unit vectors, spherical k-means), and the assignment step is optimal up to
 * n·ε. To make the recorded objective provably non-increasing we evaluate it exactly (float64)
 * and keep the previous assignment whenever the new one is not strictly better under the new
 * centroids; that also ends the loop.
 *
 * Unequal sizes: which centroid receives which capacity is itself a choice. Before every
 * assignment the capacities are matched to centroids by rank (the centroid with the most nearest
 * points gets the largest size; equal sizes keep ascending centroid order), so clusters whose
 * natural sizes match the requested sizes are recovered instead of being cut to fit.
 */
import { runKernel } from '@llama-moe/tensor-core';
import { balancedAssign } from './assignment.js';
import { PartitionError, atLayer, checkPositiveInt } from './errors.js';
import { layerRng, mixSeed } from './seed.js';

export type KMeansMetric = 'l2' | 'cos';

export interface BalancedKMeansOptions {
  /** `l2`: squared Euclidean distance; `cos`: 1 − cosine similarity. Default `l2`. */
  metric?: KMeansMetric;
  seed?: number;
  /** Mixed into the seed and named in errors. */
  layer?: number;
  /** Maximum number of assignment steps (default 20). */
  maxIter?: number;
  /** Stop when the objective decreases by less than tol × objective (default 1e-4). */
  tol?: number;
  /** Match sizes to centroids by rank before each assignment (default true; no effect for equal sizes). */
  matchSizes?: boolean;
  /**
   * Independent k-means++ restarts (sklearn's n_init); the run with the lowest final objective
   * wins. Default 1: a 7B FFN layer costs seconds per run.
   */
  nInit?: number;
}

export interface BalancedKMeansResult {
  /** [n] expert of each point; expert j holds exactly sizes[j] points. */
  labels: Int32Array;
  /** [k, d] mean of each expert's points, row j ↔ expert j. */
  centroids: Float32Array;
  /** Exact objective Σ dist(x_i, c_label(i)) after each assignment step; non-increasing. */
  objectiveHistory: number[];
  /** Objective of the final labels under the final centroids (≤ last history entry). */
  objective: number;
  iterations: number;
  converged: boolean;
}

/** x: [n, d] row-major points; sizes: [k] with Σ = n, each ≥ 1. */
export function balancedKMeans(x: Float32Array, n: number, d: number, sizes: readonly number[], opts: BalancedKMeansOptions = {}): BalancedKMeansResult {
  const nInit = opts.nInit ?? 1;
  if (!Number.isInteger(nInit) || nInit < 1) throw new PartitionError('balancedKMeans', `nInit must be a positive integer, got ${nInit}${atLayer(opts.layer)}`);
  let best: BalancedKMeansResult | null = null;
  for (let r = 0; r < nInit; r++) {
    const res = balancedKMeansOnce(x, n, d, sizes, { ...opts, seed: r === 0 ? opts.seed : mixSeed(opts.seed ?? 0, r, 0x4b4d) });
    if (!best || res.objective < best.objective) best = res;
  }
  return best!;
}

function balancedKMeansOnce(x: Float32Array, n: number, d: number, sizes: readonly number[], opts: BalancedKMeansOptions): BalancedKMeansResult {
  const op = 'balancedKMeans';
  const { metric = 'l2', seed = 0, layer, maxIter = 20, tol = 1e-4, matchSizes = true } = opts;
  const L = atLayer(layer);
  checkPositiveInt(op, 'n', n, layer);
  checkPositiveInt(op, 'd', d, layer);
  checkPositiveInt(op, 'maxIter', maxIter, layer);
  if (metric !== 'l2' && metric !== 'cos') throw new PartitionError(op, `metric must be 'l2' or 'cos', got '${String(metric)}'${L}`, { layer });
  if (x.length !== n * d) throw new PartitionError(op, `points must have n·d = ${n}·${d} elements [n, d], got ${x.length}${L}`, { layer });
  const k = sizes.length;
  let sum = 0;
  for (const s of sizes) {
    if (!Number.isInteger(s) || s < 1) throw new PartitionError(op, `every size must be an integer ≥ 1, got ${s}${L}`, { layer });
    sum += s;
  }
  if (k === 0 || sum !== n) throw new PartitionError(op, `sizes sum to ${sum} but there are ${n} points${L}`, { layer });
  for (let t = 0; t < x.length; t++) {
    if (!Number.isFinite(x[t]!)) throw new PartitionError(op, `point ${Math.floor(t / d)} has a non-finite coordinate${L}`, { layer });
  }

  /** [n] ‖x_i‖² in float64 */
  const xn2 = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let p = i * d, e = p + d; p < e; p++) s += x[p]! * x[p]!;
    xn2[i] = s;
  }
  /** [k, d] current centroids */
  const cent = new Float32Array(k * d);
  /** [k] ‖c_j‖² */
  const cn2 = new Float64Array(k);
  const refreshNorms = () => {
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let p = j * d, e = p + d; p < e; p++) s += cent[p]! * cent[p]!;
      cn2[j] = s;
    }
  };
  const pointCost = (i: number, j: number, dot: number): number => {
    if (metric === 'l2') return Math.max(0, xn2[i]! - 2 * dot + cn2[j]!);
    const nn = Math.sqrt(xn2[i]! * cn2[j]!);
    return nn > 0 ? 1 - dot / nn : 1;
  };

  // --- k-means++ seeding (D² sampling) -----------------------------------------------------------
  const rng = layerRng(seed, layer ?? 0, 0x4b4d4e53);
  /** [n] distance of each point to its nearest chosen seed */
  const minD = new Float64Array(n).fill(Infinity);
  const chosen = new Uint8Array(n);
  /** [n, 1] x · c for one candidate centre */
  const gemv = new Float32Array(n);
  for (let c = 0; c < k; c++) {
    let pick = -1;
    if (c === 0) pick = rng.int(n);
    else {
      let total = 0;
      for (let i = 0; i < n; i++) total += minD[i]!;
      if (total > 0) {
        const r = rng.uniform() * total;
        let acc = 0;
        for (let i = 0; i < n; i++) {
          if (minD[i]! <= 0) continue;
          acc += minD[i]!;
          pick = i;
          if (acc > r) break;
        }
      }
      // All remaining points coincide with a seed: any unused point is as good as another.
      if (pick < 0 || chosen[pick]) {
        const free = n - c;
        let r = rng.int(free);
        for (let i = 0; i < n; i++) {
          if (chosen[i]) continue;
          if (r-- === 0) { pick = i; break; }
        }
      }
    }
    chosen[pick] = 1;
    cent.set(x.subarray(pick * d, pick * d + d), c * d);
    refreshNorms();
    runKernel('matmul', { a: x, b: cent.subarray(c * d, c * d + d), out: gemv, batch: 1, m: n, n: 1, k: d, transA: false, transB: true, aStride: 0, bStride: 0, accumulate: false });
    for (let i = 0; i < n; i++) {
      const v = pointCost(i, c, gemv[i]!);
      if (v < minD[i]!) minD[i] = v;
    }
  }

  // --- Lloyd iterations with balanced assignment --------------------------------------------------
  /** [n, k] x · cᵀ */
  const dots = new Float32Array(n * k);
  /** [n, k] assignment costs */
  const cost = new Float64Array(n * k);
  /** [k] expert (index into sizes) served by each centroid */
  let expertOf: Int32Array = Int32Array.from({ length: k }, (_, j) => j);
  const allEqual = sizes.every((s) => s === sizes[0]);
  let labels: Int32Array | null = null; // centroid index per point
  const history: number[] = [];
  let converged = false;
  let iterations = 0;

  /** Exact float64 objective of `lab` (centroid indices) under the current centroids. */
  const objective = (lab: Int32Array): number => {
    let total = 0;
    for (let i = 0; i < n; i++) {
      const j = lab[i]!;
      const xo = i * d;
      const co = j * d;
      if (metric === 'l2') {
        let s = 0;
        for (let p = 0; p < d; p++) {
          const t = x[xo + p]! - cent[co + p]!;
          s += t * t;
        }
        total += s;
      } else {
        let s = 0;
        for (let p = 0; p < d; p++) s += x[xo + p]! * cent[co + p]!;
        const nn = Math.sqrt(xn2[i]! * cn2[j]!);
        total += nn > 0 ? 1 - s / nn : 1;
      }
    }
    return total;
  };

  for (let it = 0; it < maxIter; it++) {
    iterations = it + 1;
    runKernel('matmul', { a: x, b: cent, out: dots, batch: 1, m: n, n: k, k: d, transA: false, transB: true, aStride: 0, bStride: 0, accumulate: false });
    for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) cost[i * k + j] = pointCost(i, j, dots[i * k + j]!);
    let nextExpertOf = expertOf;
    if (!allEqual && matchSizes) nextExpertOf = matchSizesByRank(cost, n, k, sizes);
    const caps = Array.from(nextExpertOf, (j) => sizes[j]!);
    let next = balancedAssign(cost, n, k, caps).labels;
    let obj = objective(next);
    if (labels !== null) {
      const prevObj = objective(labels);
      if (!(obj < prevObj)) {
        // Not strictly better under the new centroids: keep the previous assignment (and its
        // capacities), which makes this a fixed point.
        next = labels;
        nextExpertOf = expertOf;
        obj = prevObj;
        converged = true;
      }
    }
    history.push(obj);
    const changed = labels === null || next !== labels;
    labels = next;
    expertOf = nextExpertOf;
    updateCentroids(x, n, d, k, labels, cent, metric === 'cos' ? xn2 : null);
    refreshNorms();
    if (!changed) converged = true;
    if (converged) break;
    const h = history.length;
    if (h >= 2 && history[h - 2]! - history[h - 1]! <= tol * Math.abs(history[h - 2]!)) {
      converged = true;
      break;
    }
  }
  const finalObjective = objective(labels!);

  // Relabel centroid index → expert index.
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = expertOf[labels![i]!]!;
  const centroids = new Float32Array(k * d);
  for (let c = 0; c < k; c++) centroids.set(cent.subarray(c * d, c * d + d), expertOf[c]! * d);
  return { labels: out, centroids, objectiveHistory: history, objective: finalObjective, iterations, converged };
}

/**
 * cent[j] = mean of the points labelled j (float64 accumulation; every cluster is non-empty).
 * For `cos` (xn2 given) the mean of the unit vectors x/‖x‖: that direction, not the raw mean's,
 * minimises Σ 1 − cos (spherical k-means). On normalised rows the two coincide.
 */
function updateCentroids(x: Float32Array, n: number, d: number, k: number, labels: Int32Array, cent: Float32Array, xn2: Float64Array | null): void {
  /** [k, d] running sums */
  const acc = new Float64Array(k * d);
  const count = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    const j = labels[i]!;
    count[j]!++;
    const xo = i * d;
    const ao = j * d;
    const scale = xn2 === null ? 1 : xn2[i]! > 0 ? 1 / Math.sqrt(xn2[i]!) : 0;
    for (let p = 0; p < d; p++) acc[ao + p]! += x[xo + p]! * scale;
  }
  for (let j = 0; j < k; j++) {
    if (count[j] === 0) continue;
    const inv = 1 / count[j]!;
    for (let p = j * d, e = p + d; p < e; p++) cent[p] = acc[p]! * inv;
  }
}

/**
 * Rank matching of sizes to centroids: centroids sorted by how many points are nearest to them
 * (desc, ties by index) receive the sizes sorted desc; among equal sizes, ascending centroid
 * index gets ascending expert index. Returns expertOf [k].
 */
function matchSizesByRank(cost: Float64Array, n: number, k: number, sizes: readonly number[]): Int32Array {
  const count = new Int32Array(k);
  for (let i = 0; i < n; i++) {
    let bj = 0;
    let bv = cost[i * k]!;
    for (let j = 1; j < k; j++) if (cost[i * k + j]! < bv) { bv = cost[i * k + j]!; bj = j; }
    count[bj]!++;
  }
  const byCount = Array.from({ length: k }, (_, c) => c).sort((a, b) => count[b]! - count[a]! || a - b);
  const sortedSizes = [...sizes].sort((a, b) => b - a);
  /** [k] size value given to each centroid */
  const valueOf = new Int32Array(k);
  byCount.forEach((c, r) => { valueOf[c] = sortedSizes[r]!; });
  const expertOf = new Int32Array(k);
  const used = new Uint8Array(k);
  for (let c = 0; c < k; c++) {
    // Lowest unused expert index with this size: ascending c meets ascending j.
    for (let j = 0; j < k; j++) {
      if (!used[j] && sizes[j] === valueOf[c]) { used[j] = 1; expertOf[c] = j; break; }
    }
  }
  return expertOf;
}
