/**
 * Scaled dot-product attention with grouped-query heads and a causal mask, as in transformers'
 * eager LlamaAttention: softmax(Q·Kᵀ/√d + mask)·V per head, query head h reading kv head
 * h / (Hq/Hkv). Inputs keep the projection layout [B, T, heads·headDim] so no transpose is
 * materialised in the model; attention permutes Q, K, V once into head-major panels and runs every
 * head's products as one batched kernel call (so a fast GEMM backend speeds attention up too).
 */
import { gradBuffer, needsGrad, record, recycleGradBuffers } from '../autograd.js';
import { ShapeError, TensorError, fmtShape } from '../errors.js';
import { runKernel } from '../registry.js';
import { Tensor, assertFloat } from '../tensor.js';

export interface AttentionOptions {
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Causal mask (default true). */
  causal?: boolean;
  /** Absolute position of the first query relative to the first key (default Tk − Tq: queries are the newest tokens). */
  offset?: number;
  /** Softmax scale (default 1/√headDim). */
  scale?: number;
}

function dims(x: Tensor, heads: number, hd: number, what: string): [number, number] {
  if (x.rank !== 2 && x.rank !== 3) throw new ShapeError('attention', `${what} must be [B, T, H·d] or [T, H·d], got ${fmtShape(x.shape)}`);
  const W = x.shape[x.rank - 1]!;
  if (W !== heads * hd) throw new ShapeError('attention', `${what} ${fmtShape(x.shape)}: last dim must be ${heads}·${hd} = ${heads * hd}`);
  const B = x.rank === 3 ? x.shape[0]! : 1;
  return [B, x.shape[x.rank - 2]!];
}

/**
 * Between [B, T, H·d] (the projections' layout) and [B·H, T, d] (head-major: each head a contiguous
 * panel; `toHeadMajor` false goes back), row by row with TypedArray#set (an element loop costs
 * ~2 ns per float on this kind of VM), except for rows of at most 16 floats, where the subarray
 * each `set` needs costs more than the loop (measured, B·T = 512: H 4 × d 16 189 → 148 µs,
 * H 2 × d 16 85 → 45 µs; d 48 and 64 are twice as slow as a loop).
 */
function permuteHeads(src: Float32Array, B: number, T: number, H: number, d: number, toHeadMajor: boolean, alloc: (n: number) => Float32Array = (n) => new Float32Array(n)): Float32Array {
  const dst = alloc(B * T * H * d);
  const loop = d <= 16;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        const tok = ((b * T + t) * H + h) * d, head = ((b * H + h) * T + t) * d;
        const from = toHeadMajor ? tok : head, to = toHeadMajor ? head : tok;
        if (loop) for (let i = 0; i < d; i++) dst[to + i] = src[from + i]!;
        else dst.set(src.subarray(from, from + d), to);
      }
    }
  }
  return dst;
}
const toHeads = (src: Float32Array, B: number, T: number, H: number, d: number, alloc?: (n: number) => Float32Array) => permuteHeads(src, B, T, H, d, true, alloc);
const fromHeads = (src: Float32Array, B: number, T: number, H: number, d: number, alloc?: (n: number) => Float32Array) => permuteHeads(src, B, T, H, d, false, alloc);

/**
 * out[i] = op(a[i]) · op(b[i]) for `batch` panels laid out back to back: one kernel call (the
 * native backend runs a batch as one batched MLAS call; per-head calls of these 128×64 products
 * spent as long in dispatch and thread hand-off as in arithmetic).
 */
const mmb = (a: Float32Array, b: Float32Array, out: Float32Array, batch: number, m: number, n: number, k: number, transA: boolean, transB: boolean) =>
  runKernel('matmul', { a, b, out, batch, m, n, k, transA, transB, aStride: m * k, bStride: k * n, accumulate: false });

/** Floats of attention scores held at once when the probabilities are not kept for a backward. */
const SCORE_BUDGET = 1 << 24;

export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): Tensor {
  assertFloat('attention', q, k, v);
  const { heads: Hq, kvHeads: Hkv, headDim: d } = opts;
  if (!(Hq > 0 && Hkv > 0 && Hq % Hkv === 0)) throw new TensorError('argument', 'attention', `heads (${Hq}) must be a positive multiple of kvHeads (${Hkv})`);
  const [B, Tq] = dims(q, Hq, d, 'q');
  const [Bk, Tk] = dims(k, Hkv, d, 'k');
  const [Bv, Tv] = dims(v, Hkv, d, 'v');
  if (Bk !== B || Bv !== B || Tv !== Tk) throw new ShapeError('attention', `q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)} disagree on batch or length`);
  const causal = opts.causal ?? true;
  const offset = opts.offset ?? Tk - Tq;
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  const group = Hq / Hkv;
  // Batched over the B·Hkv kv heads: the `group` query heads that share a kv head are consecutive
  // panels of the head-major Q, i.e. one [group·Tq, d] block, so GQA needs no copy of K or V.
  const BK = B * Hkv;
  /** query rows per kv head */
  const M = group * Tq;
  /** causal limit of score row r (query r % Tq): the last key it sees (−1: none) */
  const lastKey = (r: number) => (causal ? Math.min(Tk - 1, offset + (r % Tq)) : Tk - 1);
  const keep = needsGrad(q, k, v);
  /** [B·Hkv, group·Tq, d] (= [B·Hq, Tq, d]) */
  // The head-major panels, scores and output are this op's own temporaries: they come from autograd's
  // buffer pool and go back to it as soon as nothing needs them (after the forward, or after the
  // backward that reads them), so a training step does not allocate them afresh for every layer.
  const Qh = toHeads(q.f32(), B, Tq, Hq, d, gradBuffer);
  /** [B·Hkv, Tk, d] */
  const Kh = toHeads(k.f32(), B, Tk, Hkv, d, gradBuffer);
  const Vh = toHeads(v.f32(), B, Tk, Hkv, d, gradBuffer);
  /** [B·Hkv, group·Tq, d] */
  const Oh = gradBuffer(BK * M * d);
  // kv heads in chunks: all of them when the probabilities are kept for the backward (one [Tq, Tk]
  // panel per query head, as per-head code keeps), else as many as SCORE_BUDGET floats allow.
  const chunk = keep ? BK : Math.max(1, Math.min(BK, Math.floor(SCORE_BUDGET / Math.max(1, M * Tk))));
  /** [B·Hkv, group·Tq, Tk] attention probabilities (a chunk's worth when not kept) */
  const P = gradBuffer(chunk * M * Tk);
  /** [chunk·M] keys each score row sees (causal: offset + query + 1, clamped); the pattern repeats every Tq rows, and chunks start on a multiple of Tq */
  const valid = new Int32Array(chunk * M);
  for (let r = 0; r < valid.length; r++) valid[r] = lastKey(r) + 1;
  for (let h0 = 0; h0 < BK; h0 += chunk) {
    const nh = Math.min(chunk, BK - h0);
    const rows = nh * M;
    const Pc = P.subarray(0, rows * Tk);
    mmb(Qh.subarray(h0 * M * d, (h0 + nh) * M * d), Kh.subarray(h0 * Tk * d, (h0 + nh) * Tk * d), Pc, nh, M, Tk, d, false, true);
    // scale, causal mask and softmax in one kernel call; a query that sees no key attends to nothing (a 0 row)
    runKernel('maskedSoftmax', { x: Pc, out: Pc, rows, cols: Tk, scale, valid });
    mmb(Pc, Vh.subarray(h0 * Tk * d, (h0 + nh) * Tk * d), Oh.subarray(h0 * M * d, (h0 + nh) * M * d), nh, M, d, Tk, false, false);
  }
  const t = new Tensor(fromHeads(Oh, B, Tq, Hq, d, gradBuffer), q.shape);
  recycleGradBuffers(Oh);
  if (!keep) {
    recycleGradBuffers(Qh, Kh, Vh, P);
    return t;
  }
  return record(t, 'attention', [q, k, v], (gOut) => {
    /** [B·Hkv, group·Tq, d] */
    const dO = toHeads(gOut, B, Tq, Hq, d, gradBuffer);
    /** [B·Hkv, Tk, d]: summed over each group's query heads by the product itself */
    const dV = gradBuffer(BK * Tk * d);
    mmb(P, dO, dV, BK, Tk, d, M, true, false); // dV = Pᵀ·dO
    /** [B·Hkv, group·Tq, Tk] */
    const dS = gradBuffer(BK * M * Tk);
    mmb(dO, Vh, dS, BK, M, Tk, d, false, true); // dP = dO·Vᵀ
    // dS = P ⊙ (dP − rowsum(dP ⊙ P))·scale within the causal limit, 0 beyond
    runKernel('maskedSoftmaxBackward', { p: P, g: dS, out: dS, rows: BK * M, cols: Tk, scale, valid });
    const dQ = gradBuffer(BK * M * d);
    mmb(dS, Kh, dQ, BK, M, d, Tk, false, false); // dQ = dS·K
    const dK = gradBuffer(BK * Tk * d);
    mmb(dS, Qh, dK, BK, Tk, d, M, true, false); // dK = dSᵀ·Q
    const grads = [fromHeads(dQ, B, Tq, Hq, d, gradBuffer), fromHeads(dK, B, Tk, Hkv, d, gradBuffer), fromHeads(dV, B, Tk, Hkv, d, gradBuffer)];
    // the head-major temporaries and the forward's panels are dead now: the next layer reuses them
    recycleGradBuffers(dO, dV, dS, dQ, dK, Qh, Kh, Vh, P);
    return grads;
  });
}

export interface CachedAttentionOptions extends Omit<AttentionOptions, 'offset'> {
  /** Keys (and values) in the cache, the new queries' own included. */
  length: number;
  /** Positions each kv head's panel holds: head h's keys start at h·capacity·headDim. */
  capacity: number;
}

/**
 * Attention of the newest `Tq` queries ([Tq, Hq·d], batch 1) over a head-major KV cache: `keys`
 * and `values` are [Hkv, capacity, d], the first `length` positions of each panel filled. The
 * products read the panels in place (batch stride capacity·d), so a decode step does not permute
 * the whole cache into head-major order as `attention` would (that copy grew with the context and
 * was the largest cost outside the products). Inference only: nothing is recorded for autograd.
 */
export function attentionOverCache(q: Tensor, keys: Float32Array, values: Float32Array, opts: CachedAttentionOptions): Tensor {
  assertFloat('attention', q);
  const { heads: Hq, kvHeads: Hkv, headDim: d, length: Tk, capacity } = opts;
  if (!(Hq > 0 && Hkv > 0 && Hq % Hkv === 0)) throw new TensorError('argument', 'attention', `heads (${Hq}) must be a positive multiple of kvHeads (${Hkv})`);
  const [B, Tq] = dims(q, Hq, d, 'q');
  if (B !== 1) throw new ShapeError('attention', `attentionOverCache takes one sequence, got q ${fmtShape(q.shape)}`);
  if (!(Tq <= Tk && Tk <= capacity) || keys.length < Hkv * capacity * d || values.length < Hkv * capacity * d) {
    throw new ShapeError('attention', `cache of ${Hkv} × ${capacity} × ${d} (${keys.length} / ${values.length} floats) cannot hold ${Tk} keys for ${Tq} queries`);
  }
  const causal = opts.causal ?? true;
  const offset = Tk - Tq;
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  const group = Hq / Hkv;
  /** query rows per kv head */
  const M = group * Tq;
  const panel = capacity * d;
  /** [Hkv, group·Tq, d] */
  const Qh = toHeads(q.f32(), 1, Tq, Hq, d, gradBuffer);
  /** [Hkv, group·Tq, d] */
  const Oh = gradBuffer(Hkv * M * d);
  const chunk = Math.max(1, Math.min(Hkv, Math.floor(SCORE_BUDGET / Math.max(1, M * Tk))));
  /** [chunk, group·Tq, Tk] */
  const P = gradBuffer(chunk * M * Tk);
  const valid = new Int32Array(chunk * M);
  for (let r = 0; r < valid.length; r++) valid[r] = causal ? Math.min(Tk, offset + (r % Tq) + 1) : Tk;
  for (let h0 = 0; h0 < Hkv; h0 += chunk) {
    const nh = Math.min(chunk, Hkv - h0);
    const rows = nh * M;
    const Pc = P.subarray(0, rows * Tk);
    runKernel('matmul', { a: Qh.subarray(h0 * M * d), b: keys.subarray(h0 * panel), out: Pc, batch: nh, m: M, n: Tk, k: d, transA: false, transB: true, aStride: M * d, bStride: panel, accumulate: false });
    runKernel('maskedSoftmax', { x: Pc, out: Pc, rows, cols: Tk, scale, valid });
    runKernel('matmul', { a: Pc, b: values.subarray(h0 * panel), out: Oh.subarray(h0 * M * d), batch: nh, m: M, n: d, k: Tk, transA: false, transB: false, aStride: M * Tk, bStride: panel, accumulate: false });
  }
  const t = new Tensor(fromHeads(Oh, 1, Tq, Hq, d, gradBuffer), q.shape);
  recycleGradBuffers(Qh, Oh, P);
  return t;
}
