/**
 * Closed-form linear routers from calibration data, and the training-free fits that go with them.
 *
 * A router row r_e scores token x as r_e·x; the gate routes to the top-k scores and weights the
 * chosen experts by a softmax over those k scores (× score_scale_factor). Inits ([E, D] rows):
 *  - `centroids`: Σ_t a_te x_t / Σ_t a_te with a_te = Σ_{i∈S_e}|h_ti| (unit rows);
 *  - `kmeans`: balanced k-means (cos) of calibration hidden states into E clusters, each cluster
 *    matched to the expert its tokens activate most (LLaMA-MoE v2, mergekit's `hidden`) (unit rows);
 *  - `representative`: gate_proj row of each expert's representative neuron (CMoE / ExpertWeaver):
 *    the router scores each expert by the pre-activation of its most typical neuron;
 *  - `ridge`: the least-squares map x → each expert's share of |activation| a_te / Σ_e' a_te',
 *    W = (XᵀX + λI)⁻¹ XᵀY, so the top-k scores predict the experts holding most of the token's mass.
 *
 * Routing depends only on the order of the scores, so one common factor on all rows changes the
 * mixing weights and nothing else; `fitRouterTemperature` picks that factor by least squares
 * against the dense FFN output on calibration tokens. `fitExpertScales` (--recalibrate) then fits
 * one output scale per expert (shared included) the same way; it is folded into down_proj.
 */
import { Tensor, createRng, linear, noGrad, runKernel, swiglu } from '@llama-moe/tensor-core';
import { balancedAssign } from '../partition/assignment.js';
import { balancedKMeans } from '../partition/kmeans.js';
import { mixSeed } from '../partition/seed.js';
import { takeCols, takeRows } from '../moe/gather.js';

/** Gate inits computed from calibration data. */
export type DataGateInit = 'centroids' | 'kmeans' | 'representative' | 'ridge';
export const DATA_GATE_INITS: readonly DataGateInit[] = ['centroids', 'kmeans', 'representative', 'ridge'];

/** Statistics of one layer's FFN inputs x and per-expert activation mass, for the router inits and fits. */
export class RouterCalibration {
  readonly E: number;
  tokens = 0;
  /** [D, D] Σ x xᵀ */ readonly xtx: Float64Array;
  /** [D, E] Σ x yᵀ, y = the token's share of |activation| per expert */ readonly xty: Float64Array;
  /** [E, D] Σ a_te x_t */ readonly centroidSums: Float64Array;
  /** [E] Σ a_te */ readonly massSums: Float64Array;
  /** [F] Σ_t |h_ti| (representatives of partitions that name none: each expert's most active neuron) */ readonly absSum: Float64Array;
  /** Reservoir sample of FFN inputs [n, D] (seeded), for k-means and the fits. */
  readonly sample: Float32Array;
  /** [n, E] mass of each sampled token per expert. */
  readonly sampleMass: Float32Array;
  sampled = 0;
  private readonly rng;
  private readonly owner: Int32Array;

  constructor(readonly D: number, readonly F: number, readonly parts: readonly ArrayLike<number>[], opts: { sampleTokens?: number; seed?: number; layer?: number } = {}) {
    this.E = parts.length;
    this.xtx = new Float64Array(D * D);
    this.xty = new Float64Array(D * this.E);
    this.centroidSums = new Float64Array(this.E * D);
    this.massSums = new Float64Array(this.E);
    this.absSum = new Float64Array(F);
    const n = opts.sampleTokens ?? 2048;
    this.sample = new Float32Array(n * D);
    this.sampleMass = new Float32Array(n * this.E);
    this.rng = createRng(mixSeed(opts.seed ?? 0, opts.layer ?? 0, 0x524f5554));
    this.owner = new Int32Array(F).fill(-1);
    parts.forEach((p, e) => { for (let i = 0; i < p.length; i++) this.owner[p[i]!] = e; });
  }

  get capacity(): number {
    return this.sampleMass.length / this.E;
  }

  /** x [N, D] FFN inputs, h [N, F] activations. */
  add(x: Float32Array, h: Float32Array, N: number): void {
    const { D, F, E } = this;
    const a = new Float64Array(E);
    // Σ x xᵀ of the batch as one GEMM (f32 within a batch, accumulated in f64 across batches).
    const g = new Float32Array(D * D);
    runKernel('matmul', { a: x.subarray(0, N * D), b: x.subarray(0, N * D), out: g, batch: 1, m: D, n: D, k: N, transA: true, transB: false, aStride: 0, bStride: 0, accumulate: false });
    for (let i = 0; i < g.length; i++) this.xtx[i]! += g[i]!;
    for (let t = 0; t < N; t++) {
      a.fill(0);
      for (let i = 0; i < F; i++) {
        const v = Math.abs(h[t * F + i]!);
        this.absSum[i]! += v;
        const e = this.owner[i]!;
        if (e >= 0) a[e]! += v;
      }
      let tot = 0;
      for (let e = 0; e < E; e++) tot += a[e]!;
      const xo = t * D;
      for (let p = 0; p < D; p++) {
        const xp = x[xo + p]!;
        for (let e = 0; e < E; e++) this.xty[p * E + e]! += xp * (tot > 0 ? a[e]! / tot : 1 / E);
      }
      for (let e = 0; e < E; e++) {
        this.massSums[e]! += a[e]!;
        for (let p = 0; p < D; p++) this.centroidSums[e * D + p]! += a[e]! * x[xo + p]!;
      }
      // Algorithm R: every token seen so far is in the sample with equal probability.
      const cap = this.capacity;
      const seen = this.tokens + t;
      const slot = seen < cap ? seen : this.rng.int(seen + 1);
      if (slot < cap) {
        this.sample.set(x.subarray(xo, xo + D), slot * D);
        for (let e = 0; e < E; e++) this.sampleMass[slot * E + e] = a[e]!;
      }
    }
    this.tokens += N;
    this.sampled = Math.min(this.capacity, this.tokens);
  }
}

/** Unit-normalise each of E rows of length D in place (zero rows stay zero). */
function unitRows(rows: Float32Array, E: number, D: number): Float32Array {
  for (let e = 0; e < E; e++) {
    let s = 0;
    for (let d = 0; d < D; d++) s += rows[e * D + d]! ** 2;
    const k = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let d = 0; d < D; d++) rows[e * D + d]! *= k;
  }
  return rows;
}

/** Scale all rows by one factor so their root-mean-square norm is `norm` (relative row norms are kept: they rank experts). */
export function scaleRowsTo(rows: Float32Array, E: number, D: number, norm: number): Float32Array {
  let s = 0;
  for (let i = 0; i < rows.length; i++) s += rows[i]! ** 2;
  const rms = Math.sqrt(s / E);
  const k = rms > 0 ? norm / rms : 0;
  for (let i = 0; i < rows.length; i++) rows[i]! *= k;
  return rows;
}

/** Solve the symmetric positive definite system A x = b (A [n, n], B [n, m] right-hand sides) by Cholesky, in float64. */
export function solveSpd(A: Float64Array, B: Float64Array, n: number, m: number): Float64Array {
  const Lm = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j]!;
      for (let p = 0; p < j; p++) s -= Lm[i * n + p]! * Lm[j * n + p]!;
      if (i === j) {
        if (!(s > 0)) throw new RangeError(`solveSpd: matrix is not positive definite (pivot ${i} is ${s})`);
        Lm[i * n + i] = Math.sqrt(s);
      } else Lm[i * n + j] = s / Lm[j * n + j]!;
    }
  }
  const X = Float64Array.from(B);
  for (let c = 0; c < m; c++) {
    for (let i = 0; i < n; i++) {
      let s = X[i * m + c]!;
      for (let p = 0; p < i; p++) s -= Lm[i * n + p]! * X[p * m + c]!;
      X[i * m + c] = s / Lm[i * n + i]!;
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = X[i * m + c]!;
      for (let p = i + 1; p < n; p++) s -= Lm[p * n + i]! * X[p * m + c]!;
      X[i * m + c] = s / Lm[i * n + i]!;
    }
  }
  return X;
}

/** Ridge regression rows [E, D]: (XᵀX + λ·mean(diag)·I)⁻¹ XᵀY, transposed. */
export function ridgeRows(c: RouterCalibration, lambda = 1e-3): Float32Array {
  const { D, E } = c;
  const A = Float64Array.from(c.xtx);
  let tr = 0;
  for (let d = 0; d < D; d++) tr += A[d * D + d]!;
  const mu = lambda * Math.max(tr / D, 1e-12);
  for (let d = 0; d < D; d++) A[d * D + d]! += mu;
  const W = solveSpd(A, c.xty, D, E);
  const rows = new Float32Array(E * D);
  for (let e = 0; e < E; e++) for (let d = 0; d < D; d++) rows[e * D + d] = W[d * E + e]!;
  return rows;
}

/** Each expert's neuron with the largest mean |h| (the representative when the partition names none). */
export function mostActiveNeurons(c: RouterCalibration): Int32Array {
  return Int32Array.from(c.parts, (p) => {
    let best = p[0]!;
    for (let i = 0; i < p.length; i++) if (c.absSum[p[i]!]! > c.absSum[best]!) best = p[i]!;
    return best;
  });
}

/** gate_proj rows of the representative neurons: [E, D]. */
export function representativeRows(gateProj: Float32Array, D: number, reps: ArrayLike<number>): Float32Array {
  return takeRows(gateProj, D, reps);
}

/** Activation-weighted centroids of the FFN inputs, unit rows [E, D]. */
export function centroidRows(c: RouterCalibration): Float32Array {
  const { D, E } = c;
  const rows = new Float32Array(E * D);
  for (let e = 0; e < E; e++) for (let d = 0; d < D; d++) rows[e * D + d] = c.centroidSums[e * D + d]! / Math.max(c.massSums[e]!, 1e-30);
  return unitRows(rows, E, D);
}

/**
 * Balanced k-means (cos) of the sampled hidden states into E clusters; cluster → expert by a
 * one-to-one assignment maximising the mean activation share the cluster's tokens give the expert.
 * Unit rows [E, D].
 */
export function kmeansRows(c: RouterCalibration, seed = 0, layer = 0): Float32Array {
  const { D, E } = c;
  const n = c.sampled;
  if (n < E) throw new RangeError(`--gate-init kmeans needs at least ${E} calibration tokens, got ${n}`);
  const x = c.sample.subarray(0, n * D);
  const base = Math.floor(n / E);
  const sizes = Array.from({ length: E }, (_, j) => base + (j < n - base * E ? 1 : 0));
  const km = balancedKMeans(x, n, D, sizes, { metric: 'cos', seed: mixSeed(seed, layer, 0x4b4d4741), layer });
  /** [E clusters, E experts] mean share */
  const share = new Float64Array(E * E);
  for (let t = 0; t < n; t++) {
    let tot = 0;
    for (let e = 0; e < E; e++) tot += c.sampleMass[t * E + e]!;
    if (tot <= 0) continue;
    const cl = km.labels[t]!;
    for (let e = 0; e < E; e++) share[cl * E + e]! += c.sampleMass[t * E + e]! / tot;
  }
  const cost = share.map((v) => -v);
  const match = balancedAssign(cost, E, E, new Array<number>(E).fill(1)).labels;
  const rows = new Float32Array(E * D);
  for (let cl = 0; cl < E; cl++) rows.set(km.centroids.subarray(cl * D, (cl + 1) * D), match[cl]! * D);
  return unitRows(rows, E, D);
}

/** One layer's dense FFN weights (Hugging Face layout) and its partition. */
export interface LayerFfn {
  /** [F, D] */ gate: Float32Array;
  /** [F, D] */ up: Float32Array;
  /** [D, F] */ down: Float32Array;
  D: number;
  F: number;
  experts: readonly ArrayLike<number>[];
  shared: readonly ArrayLike<number>[];
}

/**
 * Per sampled token: the dense output, the shared experts' output and each routed expert's output,
 * reduced to the dot products the fits need. Routing (top-k of x·rowsᵀ) does not depend on the
 * row scale, so it is computed once.
 */
export interface FitTerms {
  n: number;
  k: number;
  /** [n, k] selected experts (by descending score) */ sel: Int32Array;
  /** [n, k] their raw scores */ score: Float64Array;
  /** [n] ‖y_dense‖², [n] y_dense·y_shared, [n] ‖y_shared‖² */ dd: Float64Array; ds: Float64Array; ss: Float64Array;
  /** [n, k] y_dense·y_e, y_shared·y_e */ de: Float64Array; se: Float64Array;
  /** [n, k, k] y_e·y_f */ ee: Float64Array;
  /** std of all raw scores */ scoreStd: number;
}

export function fitTerms(ffn: LayerFfn, xs: Float32Array, n: number, rows: Float32Array, k: number): FitTerms {
  const { D, F, experts, shared } = ffn;
  const E = experts.length;
  const X = new Tensor(xs.subarray(0, n * D), [n, D]);
  /** [n, F] */
  const h = noGrad(() => swiglu(linear(X, new Tensor(ffn.gate, [F, D])), linear(X, new Tensor(ffn.up, [F, D])))).f32();
  const out = (parts: readonly ArrayLike<number>[]): Float32Array => {
    const idx = parts.flatMap((p) => Array.from(p));
    if (idx.length === 0) return new Float32Array(n * D);
    return noGrad(() => linear(new Tensor(takeCols(h, n, F, idx), [n, idx.length]), new Tensor(takeCols(ffn.down, D, F, idx), [D, idx.length]))).f32();
  };
  const yd = noGrad(() => linear(new Tensor(h, [n, F]), new Tensor(ffn.down, [D, F]))).f32();
  const ys = out(shared);
  const ye = experts.map((p) => out([p]));
  const sel = new Int32Array(n * k), score = new Float64Array(n * k);
  const dd = new Float64Array(n), ds = new Float64Array(n), ss = new Float64Array(n);
  const de = new Float64Array(n * k), se = new Float64Array(n * k), ee = new Float64Array(n * k * k);
  const dot = (a: Float32Array, b: Float32Array, t: number) => { let s = 0; for (let d = 0; d < D; d++) s += a[t * D + d]! * b[t * D + d]!; return s; };
  const sc = new Float64Array(E);
  let s1 = 0, s2 = 0;
  for (let t = 0; t < n; t++) {
    for (let e = 0; e < E; e++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += rows[e * D + d]! * xs[t * D + d]!;
      sc[e] = s; s1 += s; s2 += s * s;
    }
    // top-k by score, ties to the lower expert id (the gate's order)
    const order = Array.from({ length: E }, (_, e) => e).sort((a, b) => sc[b]! - sc[a]! || a - b);
    for (let j = 0; j < k; j++) { sel[t * k + j] = order[j]!; score[t * k + j] = sc[order[j]!]!; }
    dd[t] = dot(yd, yd, t); ds[t] = dot(yd, ys, t); ss[t] = dot(ys, ys, t);
    for (let j = 0; j < k; j++) {
      const yj = ye[sel[t * k + j]!]!;
      de[t * k + j] = dot(yd, yj, t); se[t * k + j] = dot(ys, yj, t);
      for (let m = 0; m < k; m++) ee[(t * k + j) * k + m] = dot(yj, ye[sel[t * k + m]!]!, t);
    }
  }
  const cnt = n * E;
  const scoreStd = Math.sqrt(Math.max(s2 / cnt - (s1 / cnt) ** 2, 0));
  return { n, k, sel, score, dd, ds, ss, de, se, ee, scoreStd };
}

/** [n, k] mixing weights scoreScale · softmax(α · selected scores). */
function mixWeights(T: FitTerms, alpha: number, scoreScale: number): Float64Array {
  const { n, k } = T;
  const w = new Float64Array(n * k);
  for (let t = 0; t < n; t++) {
    let mx = -Infinity;
    for (let j = 0; j < k; j++) mx = Math.max(mx, alpha * T.score[t * k + j]!);
    let z = 0;
    for (let j = 0; j < k; j++) { const v = Math.exp(alpha * T.score[t * k + j]! - mx); w[t * k + j] = v; z += v; }
    for (let j = 0; j < k; j++) w[t * k + j] = (w[t * k + j]! / z) * scoreScale;
  }
  return w;
}

/**
 * Mean squared error ‖y_dense − c_s·y_shared − Σ_j c_{e_j} w_j y_{e_j}‖² per token, for expert
 * scales c (index 0: shared, 1 + e: routed expert e; null: all 1).
 */
export function reconstructionError(T: FitTerms, alpha: number, scoreScale: number, c: Float64Array | null = null): number {
  const { n, k } = T;
  const w = mixWeights(T, alpha, scoreScale);
  const cs = c ? c[0]! : 1;
  let err = 0;
  for (let t = 0; t < n; t++) {
    let v = T.dd[t]! - 2 * cs * T.ds[t]! + cs * cs * T.ss[t]!;
    for (let j = 0; j < k; j++) {
      const cj = (c ? c[1 + T.sel[t * k + j]!]! : 1) * w[t * k + j]!;
      v += -2 * cj * T.de[t * k + j]! + 2 * cs * cj * T.se[t * k + j]!;
      for (let m = 0; m < k; m++) v += cj * (c ? c[1 + T.sel[t * k + m]!]! : 1) * w[t * k + m]! * T.ee[(t * k + j) * k + m]!;
    }
    err += v;
  }
  return err / Math.max(n, 1);
}

/**
 * The row scale α minimising the reconstruction error with unit expert scales, over a log grid
 * 10^-3 … 10^1.5 of 1/std(scores) (the error is not convex in α; the grid covers near-uniform
 * weights to near one-hot ones). Returns α and the error before/after.
 */
export function fitRouterTemperature(T: FitTerms, scoreScale: number): { alpha: number; error: number } {
  const s = T.scoreStd > 0 ? T.scoreStd : 1;
  let best = { alpha: 1e-3 / s, error: Infinity };
  for (let p = -3; p <= 1.5 + 1e-9; p += 0.125) {
    const alpha = 10 ** p / s;
    const error = reconstructionError(T, alpha, scoreScale);
    if (error < best.error) best = { alpha, error };
  }
  return best;
}

/**
 * --recalibrate: scales c (index 0: the shared experts, 1 + e: routed expert e) minimising the
 * reconstruction error over the sampled tokens, with a small ridge pull towards 1 (experts a token
 * sample never selects keep scale 1). Normal equations in float64.
 */
export function fitExpertScales(T: FitTerms, E: number, alpha: number, scoreScale: number, ridge = 1e-3): Float64Array {
  const { n, k } = T;
  const P = E + 1;
  const w = mixWeights(T, alpha, scoreScale);
  const A = new Float64Array(P * P), b = new Float64Array(P);
  for (let t = 0; t < n; t++) {
    A[0]! += T.ss[t]!;
    b[0]! += T.ds[t]!;
    for (let j = 0; j < k; j++) {
      const pj = 1 + T.sel[t * k + j]!, wj = w[t * k + j]!;
      A[pj]! += wj * T.se[t * k + j]!;
      A[pj * P]! += wj * T.se[t * k + j]!;
      b[pj]! += wj * T.de[t * k + j]!;
      for (let m = 0; m < k; m++) A[pj * P + 1 + T.sel[t * k + m]!]! += wj * w[t * k + m]! * T.ee[(t * k + j) * k + m]!;
    }
  }
  let tr = 0;
  for (let i = 0; i < P; i++) tr += A[i * P + i]!;
  const mu = ridge * Math.max(tr / P, 1e-30);
  for (let i = 0; i < P; i++) { A[i * P + i]! += mu; b[i]! += mu; }
  return solveSpd(A, b, P, 1);
}
