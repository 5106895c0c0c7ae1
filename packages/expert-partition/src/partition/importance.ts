/**
 * Neuron importance for the gradient-based constructions (LLaMA-MoE GradientSplitGetGrads,
 * importance_type "feature_change", per-token L1 kernel): for FFN hidden h = silu(gate x) ⊙ up x
 * (the input of down_proj) and dh = ∂L/∂h from the backward pass, neuron i of data cluster c
 * scores Σ_tokens |h_i · dh_i|. One row per data cluster; cluster j seeds expert j.
 */
import { PartitionError, checkFloatBuffer, checkPositiveInt } from './errors.js';

export class ImportanceAccumulator {
  readonly F: number;
  readonly numClusters: number;
  /** [numClusters, F] running Σ |h ⊙ dh| (float64: millions of small terms) */
  readonly sums: Float64Array;
  /** [numClusters] tokens added per cluster */
  readonly tokens: Float64Array;

  constructor(F: number, numClusters: number) {
    checkPositiveInt('ImportanceAccumulator', 'intermediate_size', F);
    checkPositiveInt('ImportanceAccumulator', 'numClusters', numClusters);
    this.F = F;
    this.numClusters = numClusters;
    this.sums = new Float64Array(numClusters * F);
    this.tokens = new Float64Array(numClusters);
  }

  /** h, dh: [N, F] activations and their gradients for N tokens of data cluster `cluster`. */
  add(cluster: number, h: Float32Array, dh: Float32Array, N: number): void {
    const op = 'ImportanceAccumulator.add';
    const F = this.F;
    if (!Number.isInteger(cluster) || cluster < 0 || cluster >= this.numClusters) {
      throw new PartitionError(op, `cluster must be an integer in [0, ${this.numClusters}), got ${cluster}`);
    }
    if (!Number.isInteger(N) || N < 0) throw new PartitionError(op, `N must be a non-negative integer, got ${N}`);
    checkFloatBuffer(op, 'h', h, N * F, `[${N}, ${F}]`);
    checkFloatBuffer(op, 'dh', dh, N * F, `[${N}, ${F}]`);
    const row = cluster * F;
    for (let t = 0; t < N; t++) {
      const o = t * F;
      for (let i = 0; i < F; i++) {
        const v = Math.abs(h[o + i]! * dh[o + i]!);
        if (Number.isNaN(v)) throw new PartitionError(op, `h·dh is NaN at token ${t}, neuron ${i} (cluster ${cluster})`);
        this.sums[row + i]! += v;
      }
    }
    this.tokens[cluster]! += N;
  }

  /**
   * [numClusters, F] scores. `mean` (default) divides each cluster's sums by its token count, as
   * the reference divides by the sample count, so clusters with more calibration tokens do not
   * outbid the others in the disjoint greedy split; `sum` returns the raw sums.
   */
  scores(opts: { normalize?: 'mean' | 'sum' } = {}): Float64Array {
    const out = new Float64Array(this.sums);
    if ((opts.normalize ?? 'mean') === 'mean') {
      for (let c = 0; c < this.numClusters; c++) {
        const n = this.tokens[c]!;
        if (n === 0) throw new PartitionError('ImportanceAccumulator.scores', `data cluster ${c} received no tokens; every expert needs calibration data of its cluster`);
        const inv = 1 / n;
        for (let i = c * this.F, e = i + this.F; i < e; i++) out[i]! *= inv;
      }
    }
    return out;
  }
}
