/**
 * Scaled dot-product attention with grouped-query heads and a causal mask, as in transformers'
 * eager LlamaAttention: softmax(Q·Kᵀ/√d + mask)·V per head, query head h reading kv head
 * h / (Hq/Hkv). Inputs keep the projection layout [B, T, heads·headDim] so no transpose is
 * materialised; each head is gathered into a contiguous panel and multiplied through the kernel
 * registry (so a fast GEMM backend speeds attention up too).
 */
import { needsGrad, record } from '../autograd.js';
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
 * Copy head h of rows [b, 0..T) from layout [B, T, H·d] into a contiguous [T, d] panel (or back).
 * Row by row with TypedArray#set: an element loop costs ~2 ns per float on this kind of VM.
 */
function gatherHead(src: Float32Array, dst: Float32Array, b: number, T: number, H: number, h: number, d: number): void {
  for (let t = 0; t < T; t++) {
    const so = ((b * T + t) * H + h) * d;
    dst.set(src.subarray(so, so + d), t * d);
  }
}
function scatterHead(src: Float32Array, dst: Float32Array, b: number, T: number, H: number, h: number, d: number, accumulate: boolean): void {
  for (let t = 0; t < T; t++) {
    const so = ((b * T + t) * H + h) * d;
    if (accumulate) for (let i = 0; i < d; i++) dst[so + i]! += src[t * d + i]!;
    else dst.set(src.subarray(t * d, t * d + d), so);
  }
}

const mm = (a: Float32Array, b: Float32Array, out: Float32Array, m: number, n: number, k: number, transA: boolean, transB: boolean, accumulate = false) =>
  runKernel('matmul', { a, b, out, batch: 1, m, n, k, transA, transB, aStride: 0, bStride: 0, accumulate });

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
  const qd = q.f32(), kd = k.f32(), vd = v.f32();
  const out = new Float32Array(q.size);
  const keep = needsGrad(q, k, v);
  /** [B·Hq][Tq, Tk] attention probabilities, kept only for backward */
  const probs: Float32Array[] = [];
  const Qh = new Float32Array(Tq * d), Kh = new Float32Array(Tk * d), Vh = new Float32Array(Tk * d), Oh = new Float32Array(Tq * d);
  /** [Tq] per-row max and Σ exp of the scores (expRows) */
  const rowMax = new Float32Array(Tq), rowSum = new Float64Array(Tq);
  for (let b = 0; b < B; b++) {
    for (let kh = 0; kh < Hkv; kh++) {
      gatherHead(kd, Kh, b, Tk, Hkv, kh, d);
      gatherHead(vd, Vh, b, Tk, Hkv, kh, d);
      for (let g = 0; g < group; g++) {
        const h = kh * group + g;
        gatherHead(qd, Qh, b, Tq, Hq, h, d);
        /** [Tq, Tk] */
        const P = new Float32Array(Tq * Tk);
        mm(Qh, Kh, P, Tq, Tk, d, false, true);
        // scale, mask (−∞ beyond the causal limit), then the row exponentials in one kernel call
        for (let i = 0; i < Tq; i++) {
          const o = i * Tk;
          const last = causal ? Math.min(Tk - 1, offset + i) : Tk - 1;
          for (let j = 0; j <= last; j++) P[o + j]! *= scale;
          P.fill(-Infinity, o + Math.max(last + 1, 0), o + Tk);
        }
        runKernel('expRows', { x: P, out: P, rows: Tq, cols: Tk, max: rowMax, sum: rowSum });
        for (let i = 0; i < Tq; i++) {
          const o = i * Tk;
          const last = causal ? Math.min(Tk - 1, offset + i) : Tk - 1;
          if (last < 0) {
            P.fill(0, o, o + Tk); // a query that sees no key attends to nothing
            continue;
          }
          const inv = 1 / rowSum[i]!;
          for (let j = 0; j <= last; j++) P[o + j]! *= inv;
        }
        mm(P, Vh, Oh, Tq, d, Tk, false, false);
        scatterHead(Oh, out, b, Tq, Hq, h, d, false);
        if (keep) probs.push(P);
      }
    }
  }
  const t = new Tensor(out, q.shape);
  return record(t, 'attention', [q, k, v], (gOut) => {
    const gq = new Float32Array(q.size), gk = new Float32Array(k.size), gv = new Float32Array(v.size);
    const dO = new Float32Array(Tq * d), dQ = new Float32Array(Tq * d), dK = new Float32Array(Tk * d), dV = new Float32Array(Tk * d);
    const dS = new Float32Array(Tq * Tk);
    let idx = 0;
    for (let b = 0; b < B; b++) {
      for (let kh = 0; kh < Hkv; kh++) {
        gatherHead(kd, Kh, b, Tk, Hkv, kh, d);
        gatherHead(vd, Vh, b, Tk, Hkv, kh, d);
        dK.fill(0);
        dV.fill(0);
        for (let g = 0; g < group; g++) {
          const h = kh * group + g;
          const P = probs[idx++]!;
          gatherHead(qd, Qh, b, Tq, Hq, h, d);
          gatherHead(gOut, dO, b, Tq, Hq, h, d);
          mm(P, dO, dV, Tk, d, Tq, true, false, true); // dV += Pᵀ·dO
          mm(dO, Vh, dS, Tq, Tk, d, false, true); // dP = dO·Vᵀ
          // dS = P ⊙ (dP − rowsum(dP ⊙ P))·scale; P is 0 beyond the causal limit, so dS is too
          for (let i = 0; i < Tq; i++) {
            const o = i * Tk;
            const last = causal ? Math.min(Tk - 1, offset + i) : Tk - 1;
            let dot = 0;
            for (let j = 0; j <= last; j++) dot += dS[o + j]! * P[o + j]!;
            for (let j = 0; j <= last; j++) dS[o + j] = P[o + j]! * (dS[o + j]! - dot) * scale;
            dS.fill(0, o + Math.max(last + 1, 0), o + Tk);
          }
          mm(dS, Kh, dQ, Tq, d, Tk, false, false); // dQ = dS·K
          mm(dS, Qh, dK, Tk, d, Tq, true, false, true); // dK += dSᵀ·Q
          scatterHead(dQ, gq, b, Tq, Hq, h, d, false);
        }
        scatterHead(dK, gk, b, Tk, Hkv, kh, d, false);
        scatterHead(dV, gv, b, Tk, Hkv, kh, d, false);
      }
    }
    return [gq, gk, gv];
  });
}
