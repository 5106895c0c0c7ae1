/**
 * Co-activation statistics for the `graph` method (LLaMA-MoE's GraphSplit builds a dense F×F
 * adjacency from FFN hidden features and hands it to METIS).
 *
 * W_ij = Σ_tokens a_i · a_j with a = |h| (`magnitude`) or a = [h > 0] (`binary`: the number of
 * tokens on which both neurons fire), h = silu(gate_proj x) ⊙ up_proj x, the input of down_proj.
 *
 * Storage: only the strict upper triangle, F(F−1)/2 float32 values (11008 → 242 MB instead of
 * 484 MB for the full matrix). Each `add` is a blocked SYRK, Aᵀ·A one block of 128 rows at a time
 * through tensor-core's `matmul` kernel (a fast backend plugs in; the cpu kernel skips zero
 * entries of A, which halves the binary case). `toGraph` then sparsifies: each neuron keeps its
 * `topK` heaviest neighbours (default 64) and the graph is the union of those lists, which keeps
 * the partitioner's input at O(F·topK) edges.
 */
import { runKernel } from '@llama-moe/tensor-core';
import { PartitionError, checkFloatBuffer, checkPositiveInt } from './errors.js';
import { graphFromEdges, type CsrGraph } from './graph.js';

export type CoActivationKind = 'magnitude' | 'binary';

export interface CoActivationOptions {
  kind?: CoActivationKind;
  /** Neuron rows per GEMM block (default 128): trades scratch memory (blockRows·F floats) for calls. */
  blockRows?: number;
}

export interface ToGraphOptions {
  /** Neighbours kept per neuron before union-symmetrisation (default 64; 0 or ≥ F−1 keeps every positive edge). */
  topK?: number;
}

export class CoActivationAccumulator {
  readonly F: number;
  readonly kind: CoActivationKind;
  /** Tokens accumulated so far. */
  tokens = 0;
  /** [F(F−1)/2] strict upper triangle, row-major: (i, j > i) at triIndex(i, j) */
  readonly upper: Float32Array;
  private readonly blockRows: number;

  constructor(F: number, opts: CoActivationOptions = {}) {
    checkPositiveInt('CoActivationAccumulator', 'intermediate_size', F);
    const kind = opts.kind ?? 'magnitude';
    if (kind !== 'magnitude' && kind !== 'binary') throw new PartitionError('CoActivationAccumulator', `kind must be 'magnitude' or 'binary', got '${String(kind)}'`);
    const len = (F * (F - 1)) / 2;
    if (len > 2 ** 31 - 1) throw new PartitionError('CoActivationAccumulator', `intermediate_size ${F} needs ${len} triangle entries, more than one Float32Array holds; use a smaller model or shard neurons`);
    this.F = F;
    this.kind = kind;
    this.upper = new Float32Array(len);
    this.blockRows = Math.max(1, Math.floor(opts.blockRows ?? 128));
  }

  /** Index of (i, j), i < j, in `upper`. */
  triIndex(i: number, j: number): number {
    return i * this.F - (i * (i + 1)) / 2 + (j - i - 1);
  }

  /** W_ij (symmetric; 0 on the diagonal). */
  weight(i: number, j: number): number {
    if (i === j) return 0;
    return i < j ? this.upper[this.triIndex(i, j)]! : this.upper[this.triIndex(j, i)]!;
  }

  /** h: [N, F] activations (input of down_proj) of N tokens. */
  add(h: Float32Array, N: number): void {
    const F = this.F;
    if (!Number.isInteger(N) || N < 0) throw new PartitionError('CoActivationAccumulator.add', `N must be a non-negative integer, got ${N}`);
    checkFloatBuffer('CoActivationAccumulator.add', 'h', h, N * F, `[${N}, ${F}]`);
    if (N === 0) return;
    /** [N, F] activation indicator or magnitude */
    const a = new Float32Array(N * F);
    for (let t = 0; t < a.length; t++) {
      const v = h[t]!;
      if (Number.isNaN(v)) throw new PartitionError('CoActivationAccumulator.add', `h[${Math.floor(t / F)}, ${t % F}] is NaN`);
      a[t] = this.kind === 'binary' ? (v > 0 ? 1 : 0) : Math.abs(v);
    }
    const bs = Math.min(this.blockRows, F);
    /** [N, bs] columns i0..i1 of a */
    const packA = new Float32Array(N * bs);
    /** [N, F − i0] columns i0..F of a */
    const packB = new Float32Array(N * F);
    /** [bs, F − i0] block of Aᵀ·A */
    const out = new Float32Array(bs * F);
    for (let i0 = 0; i0 < F - 1; i0 += bs) {
      const m = Math.min(bs, F - i0);
      const cols = F - i0;
      for (let t = 0; t < N; t++) {
        const row = a.subarray(t * F + i0, t * F + F);
        packB.set(row, t * cols);
        packA.set(row.subarray(0, m), t * m);
      }
      runKernel('matmul', {
        a: packA.subarray(0, N * m), b: packB.subarray(0, N * cols), out: out.subarray(0, m * cols),
        batch: 1, m, n: cols, k: N, transA: true, transB: false, aStride: 0, bStride: 0, accumulate: false,
      });
      for (let r = 0; r < m; r++) {
        const i = i0 + r;
        if (i === F - 1) break;
        const dst = this.triIndex(i, i + 1);
        const src = r * cols + r + 1;
        const len = F - i - 1;
        const u = this.upper;
        for (let c = 0; c < len; c++) u[dst + c]! += out[src + c]!;
      }
    }
    this.tokens += N;
  }

  /** Sparse symmetric graph: union of every neuron's topK heaviest positive edges (ties: lower id). */
  toGraph(opts: ToGraphOptions = {}): CsrGraph {
    const F = this.F;
    const topK = opts.topK ?? 64;
    if (!Number.isInteger(topK) || topK < 0) throw new PartitionError('CoActivationAccumulator.toGraph', `topK must be a non-negative integer, got ${topK}`);
    if (topK === 0 || topK >= F - 1) {
      let m = 0;
      for (let t = 0; t < this.upper.length; t++) if (this.upper[t]! > 0) m++;
      const us = new Int32Array(m);
      const vs = new Int32Array(m);
      const ws = new Float64Array(m);
      let e = 0;
      for (let i = 0; i < F; i++) {
        const base = this.triIndex(i, i + 1);
        for (let j = i + 1; j < F; j++) {
          const w = this.upper[base + j - i - 1]!;
          if (w > 0) { us[e] = i; vs[e] = j; ws[e++] = w; }
        }
      }
      return graphFromEdges(F, us, vs, ws);
    }
    /** [F·topK] kept (i, j, w), -1 marks an unused slot */
    const us = new Int32Array(F * topK);
    const vs = new Int32Array(F * topK).fill(-1);
    const ws = new Float64Array(F * topK);
    // Per-row min-heap of the best topK so far, root = worst (lowest weight, then highest id).
    const hw = new Float64Array(topK);
    const hj = new Int32Array(topK);
    const worse = (wa: number, ja: number, wb: number, jb: number) => wa < wb || (wa === wb && ja > jb);
    const siftDown = (size: number) => {
      let p = 0;
      const w = hw[0]!;
      const j = hj[0]!;
      for (;;) {
        const l = 2 * p + 1;
        if (l >= size) break;
        const r = l + 1;
        const c = r < size && worse(hw[r]!, hj[r]!, hw[l]!, hj[l]!) ? r : l;
        if (!worse(hw[c]!, hj[c]!, w, j)) break;
        hw[p] = hw[c]!; hj[p] = hj[c]!;
        p = c;
      }
      hw[p] = w; hj[p] = j;
    };
    const siftUp = (pos: number) => {
      const w = hw[pos]!;
      const j = hj[pos]!;
      while (pos > 0) {
        const par = (pos - 1) >> 1;
        if (!worse(w, j, hw[par]!, hj[par]!)) break;
        hw[pos] = hw[par]!; hj[pos] = hj[par]!;
        pos = par;
      }
      hw[pos] = w; hj[pos] = j;
    };
    let e = 0;
    for (let i = 0; i < F; i++) {
      let size = 0;
      for (let j = 0; j < F; j++) {
        if (j === i) continue;
        const w = j < i ? this.upper[this.triIndex(j, i)]! : this.upper[this.triIndex(i, j)]!;
        if (!(w > 0)) continue;
        if (size < topK) { hw[size] = w; hj[size] = j; siftUp(size++); }
        else if (worse(hw[0]!, hj[0]!, w, j)) { hw[0] = w; hj[0] = j; siftDown(size); }
      }
      for (let t = 0; t < size; t++) { us[e] = i; vs[e] = hj[t]!; ws[e++] = hw[t]!; }
    }
    return graphFromEdges(F, us.subarray(0, e), vs.subarray(0, e), ws.subarray(0, e), 'max');
  }
}
