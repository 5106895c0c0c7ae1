/**
 * `carve` (training-free carving, after CMoE, arXiv 2502.04416): per-neuron statistics of the
 * SwiGLU hidden h = silu(gate(x)) ⊙ up(x) over calibration tokens decide which neurons are always
 * on and how the others are grouped.
 *
 *  - Per token, the top-K neurons by |h| (K = ⌈topFraction·F⌉, CMoE's 10 %) are "highly active".
 *    A neuron's activation rate is the share of tokens it is highly active on.
 *  - The `sharedSize` neurons with the highest rates form one always-on shared expert: they fire
 *    on nearly every token, so routing them would only cost quality.
 *  - The rest are grouped into balanced routed experts by co-activation: each neuron's profile is
 *    its row of the co-occurrence counts C_ij (tokens on which i and j are both highly active),
 *    normalised to cosines C_ij / √(C_ii C_jj); balanced spherical k-means of those profiles puts
 *    neurons that fire together into one expert, so a token's activation mass concentrates in a
 *    few experts and top-k routing keeps most of it.
 *  - Each expert's representative is the member whose profile is closest to the expert's
 *    centroid; its gate_proj row is one of the closed-form router inits (router-init.ts).
 */
import { balancedKMeans } from './kmeans.js';
import { PartitionError, atLayer, checkFloatBuffer, checkPositiveInt } from './errors.js';
import { resolveSizes } from './sizes.js';
import type { NeuronPartition } from './types.js';
import { expertsFromLabels } from './validate.js';

/** CMoE marks the top 10 % of neurons of every token as highly active. */
export const CARVE_TOP_FRACTION = 0.1;

/** Activation statistics of one FFN layer for `carve`. */
export class ActivationStats {
  readonly F: number;
  /** Neurons marked highly active per token. */
  readonly topK: number;
  tokens = 0;
  /** [F] tokens on which each neuron was among the top-K */
  readonly counts: Float64Array;
  /** [F] Σ_t |h_ti| (tie-break of equal rates) */
  readonly absSum: Float64Array;
  /** [F, F] tokens on which both i and j were among the top-K (symmetric; the diagonal is `counts`) */
  readonly co: Float32Array;
  /** scratch: one row of |h|, and a copy sorted to find the K-th largest */
  private readonly row: Float32Array;
  private readonly sorted: Float32Array;

  constructor(F: number, opts: { topFraction?: number } = {}) {
    checkPositiveInt('ActivationStats', 'intermediate_size', F);
    const frac = opts.topFraction ?? CARVE_TOP_FRACTION;
    if (!(frac > 0 && frac <= 1)) throw new PartitionError('ActivationStats', `topFraction must be in (0, 1], got ${frac}`);
    if (F * F > 2 ** 31 - 1) throw new PartitionError('ActivationStats', `intermediate_size ${F} needs ${F * F} co-activation counts, more than one Float32Array holds`);
    this.F = F;
    this.topK = Math.max(1, Math.ceil(frac * F));
    this.counts = new Float64Array(F);
    this.absSum = new Float64Array(F);
    this.co = new Float32Array(F * F);
    this.row = new Float32Array(F);
    this.sorted = new Float32Array(F);
  }

  /** h: [N, F] activations (input of down_proj) of N tokens. */
  add(h: Float32Array, N: number): void {
    const F = this.F, K = this.topK;
    checkFloatBuffer('ActivationStats.add', 'h', h, N * F, `[${N}, ${F}]`);
    const row = this.row, sorted = this.sorted, co = this.co;
    const top = new Int32Array(K);
    for (let t = 0; t < N; t++) {
      for (let i = 0; i < F; i++) {
        const v = Math.abs(h[t * F + i]!);
        if (Number.isNaN(v)) throw new PartitionError('ActivationStats.add', `h[${t}, ${i}] is NaN`);
        row[i] = v;
        this.absSum[i]! += v;
      }
      // The K largest |h|: everything above the K-th largest value, then values equal to it by
      // ascending neuron id, so the marks are deterministic. (A numeric typed-array sort, no comparator.)
      sorted.set(row);
      sorted.sort();
      const thr = sorted[F - K]!;
      let n = 0;
      for (let i = 0; i < F; i++) if (row[i]! > thr) top[n++] = i;
      for (let i = 0; i < F && n < K; i++) if (row[i] === thr) top[n++] = i;
      for (let r = 0; r < K; r++) {
        const i = top[r]!;
        this.counts[i]!++;
        const o = i * F;
        for (let s = 0; s < K; s++) co[o + top[s]!]!++;
      }
    }
    this.tokens += N;
  }

  /** [F] share of tokens on which each neuron was highly active. */
  rates(): Float64Array {
    const r = new Float64Array(this.F);
    if (this.tokens > 0) for (let i = 0; i < this.F; i++) r[i] = this.counts[i]! / this.tokens;
    return r;
  }
}

export interface CarvePartitionOptions {
  seed?: number;
  layer?: number;
  maxIter?: number;
}

export interface CarvePartition extends NeuronPartition {
  /** [E] representative neuron of each routed expert (a member of it). */
  representatives: Int32Array;
  /** [F] activation rate of every neuron. */
  rates: Float64Array;
}

/** Neurons by decreasing activation rate (ties: larger Σ|h|, then lower id). */
export function neuronsByRate(stats: ActivationStats): Int32Array {
  const ids = Int32Array.from({ length: stats.F }, (_, i) => i);
  return ids.sort((a, b) => stats.counts[b]! - stats.counts[a]! || stats.absSum[b]! - stats.absSum[a]! || a - b);
}

/**
 * Shared expert of `sharedSize` neurons (0: none) and routed experts of `sizes` (Σ sizes = F − sharedSize).
 */
export function carvePartition(stats: ActivationStats, sizes: readonly number[], sharedSize: number, opts: CarvePartitionOptions = {}): CarvePartition {
  const op = 'carvePartition';
  const { layer, seed = 0 } = opts;
  const L = atLayer(layer);
  const F = stats.F;
  if (stats.tokens === 0) throw new PartitionError(op, `method 'carve' got no calibration tokens; feed calibration data (--data)${L}`, { layer });
  if (!Number.isInteger(sharedSize) || sharedSize < 0 || sharedSize >= F) throw new PartitionError(op, `shared size must be an integer in [0, ${F - 1}], got ${sharedSize}${L}`, { layer });
  const R = F - sharedSize;
  resolveSizes(R, sizes.length, sizes, { layer });
  const byRate = neuronsByRate(stats);
  const shared = Int32Array.from(byRate.subarray(0, sharedSize)).sort();
  const routed = Int32Array.from(byRate.subarray(sharedSize)).sort();
  // Co-activation profiles of the routed neurons over the routed neurons: cosines of their marker vectors.
  /** [R, R] */
  const prof = new Float32Array(R * R);
  for (let a = 0; a < R; a++) {
    const i = routed[a]!;
    const cii = stats.co[i * F + i]!;
    if (cii === 0) continue;
    for (let b = 0; b < R; b++) {
      const j = routed[b]!;
      const cjj = stats.co[j * F + j]!;
      if (cjj > 0) prof[a * R + b] = stats.co[i * F + j]! / Math.sqrt(cii * cjj);
    }
  }
  const km = balancedKMeans(prof, R, R, sizes, { metric: 'cos', seed, layer, maxIter: opts.maxIter ?? 30 });
  const local = expertsFromLabels(km.labels, sizes);
  const experts = local.map((idx) => Int32Array.from(idx, (a) => routed[a]!).sort());
  // Representative: the member most similar (cosine) to its expert's centroid; ties → higher rate.
  const representatives = new Int32Array(sizes.length);
  local.forEach((idx, e) => {
    const c = km.centroids.subarray(e * R, (e + 1) * R);
    let cn = 0;
    for (let b = 0; b < R; b++) cn += c[b]! * c[b]!;
    let best = -Infinity, arg = idx[0]!;
    for (const a of idx) {
      let dot = 0, nn = 0;
      for (let b = 0; b < R; b++) { dot += prof[a * R + b]! * c[b]!; nn += prof[a * R + b]! ** 2; }
      const cos = nn > 0 && cn > 0 ? dot / Math.sqrt(nn * cn) : -1;
      const i = routed[a]!, j = routed[arg]!;
      if (cos > best || (cos === best && stats.counts[i]! > stats.counts[j]!)) { best = cos; arg = a; }
    }
    representatives[e] = routed[arg]!;
  });
  return {
    method: 'carve',
    sizes: [...sizes],
    experts,
    ...(sharedSize > 0 ? { shared: [shared] } : {}),
    overlap: false,
    centroids: km.centroids,
    objectiveHistory: km.objectiveHistory,
    representatives,
    rates: stats.rates(),
  };
}

/** Routed expert sizes for carve: F − shared split as evenly as possible (the first experts take the remainder). */
export function carveSizes(F: number, E: number, sharedSize: number): number[] {
  const R = F - sharedSize;
  if (R < E) throw new PartitionError('carveSizes', `intermediate_size ${F} minus ${sharedSize} shared neurons leaves ${R}, fewer than ${E} routed experts`);
  const base = Math.floor(R / E), extra = R - base * E;
  return Array.from({ length: E }, (_, j) => base + (j < extra ? 1 : 0));
}

/**
 * The default shared size: one routed expert's worth, so the FFN is cut into E + 1 blocks of
 * (nearly) equal size, one of them always on: F / (E + 1) rounded down.
 */
export function defaultCarveSharedSize(F: number, E: number): number {
  return Math.floor(F / (E + 1));
}
