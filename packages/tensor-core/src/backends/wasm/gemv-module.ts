/**
 * Matrix–vector products (a matmul with M = 1 or N = 1, see ../gemv-form.ts) in WebAssembly SIMD on
 * the calling thread. A decode step is a chain of them; the blocked GEMM (wasm-gemm.ts) pads a
 * one-row product to a 4-row panel and packs both operands, and the native backend pays an ORT
 * dispatch and a thread hand-off (~25–50 µs) per call, both more than the arithmetic of a small
 * product (an expert's 48×288 gate of a stories15M-shaped 4-of-16 MoE is 14 k multiply-adds).
 *
 * - `dot`  y[r] = Σₖ W[r, k]·x[k]: four rows at a time share each load of x; lane sums added as
 *   (l0 + l1) + (l2 + l3). Needs K % 4 = 0.
 * - `axpy` y[c] = Σₖ x[k]·W[k, c]: four rows of W per pass over y, added in k order. Needs C % 4 = 0.
 *
 * The matrix is copied into the module's memory (TypedArray#set: a memcpy), so the product reads it
 * twice; that is why the native backend keeps the large ones (it reads our arrays in place).
 * Results agree with the cpu oracle to f32 accuracy, not bit for bit (another summation order).
 *
 * Memory (floats): W [rows·K] · x [K] · y [rows], one batch entry at a time.
 */
import type { MatmulArgs } from '../../registry.js';
import { gemvForm } from '../gemv-form.js';
import { Code, F32, I32, V128, type FuncDef } from './wasm-emitter.js';
import { MAX_FLOATS, instantiate, reserve } from './scratch-module.js';

/** Push (l0 + l1) + (l2 + l3) of the v128 in local `v`. */
function hsum(c: Code, v: number): void {
  c.get(v).f32x4ExtractLane(0).get(v).f32x4ExtractLane(1).f32Add();
  c.get(v).f32x4ExtractLane(2).get(v).f32x4ExtractLane(3).f32Add();
  c.f32Add();
}

/** dot(W, x, y, rows, kBytes, acc): y[r] = (acc ? y[r] : 0) + W[r]·x for r < rows. */
export function dotFunc(): FuncDef {
  const [W, X, Y, ROWS, KB, ACC] = [0, 1, 2, 3, 4, 5];
  const [R, R4, P, W0, W1, W2, W3, YP] = [6, 7, 8, 9, 10, 11, 12, 13];
  const [S] = [14];
  const [XV, A0, A1, A2, A3] = [15, 16, 17, 18, 19];
  const acc = [A0, A1, A2, A3], wp = [W0, W1, W2, W3];
  const c = new Code();
  /** y[row at YP] = hsum(v) (+ y when acc); YP advances by 4 bytes */
  const store = (v: number) => {
    hsum(c, v);
    c.set(S);
    c.get(ACC).if_().get(S).get(YP).f32Load(0).f32Add().set(S).end();
    c.get(YP).get(S).f32Store(0);
    c.addImm(YP, 4);
  };
  c.get(ROWS).i32(-4).i32And().set(R4);
  c.get(Y).set(YP);
  c.i32(0).set(R);
  c.get(W).set(W0);
  c.whileBelow(R, R4, () => {
    c.get(W0).get(KB).i32Add().set(W1);
    c.get(W1).get(KB).i32Add().set(W2);
    c.get(W2).get(KB).i32Add().set(W3);
    for (const a of acc) c.v128Zero().set(a);
    c.i32(0).set(P);
    c.whileBelow(P, KB, () => {
      c.get(X).get(P).i32Add().v128Load(0, 2).set(XV);
      for (let j = 0; j < 4; j++) c.get(acc[j]!).get(wp[j]!).get(P).i32Add().v128Load(0, 2).get(XV).f32x4Mul().f32x4Add().set(acc[j]!);
      c.addImm(P, 16);
    });
    for (const a of acc) store(a);
    c.get(W3).get(KB).i32Add().set(W0);
    c.addImm(R, 4);
  });
  c.whileBelow(R, ROWS, () => {
    c.v128Zero().set(A0);
    c.i32(0).set(P);
    c.whileBelow(P, KB, () => {
      c.get(A0).get(W0).get(P).i32Add().v128Load(0, 2).get(X).get(P).i32Add().v128Load(0, 2).f32x4Mul().f32x4Add().set(A0);
      c.addImm(P, 16);
    });
    store(A0);
    c.addLocal(W0, KB);
    c.addImm(R, 1);
  });
  return { params: [I32, I32, I32, I32, I32, I32], results: [], locals: [I32, I32, I32, I32, I32, I32, I32, I32, F32, V128, V128, V128, V128, V128], body: c, export: 'dot' };
}

/** axpy(W, x, y, inner, cBytes, acc): y = (acc ? y : 0) + Σₖ x[k]·W[k] over rows of cBytes. */
export function axpyFunc(): FuncDef {
  const [W, X, Y, K, CB, ACC] = [0, 1, 2, 3, 4, 5];
  const [KK, K4, P, W0, W1, W2, W3, XP] = [6, 7, 8, 9, 10, 11, 12, 13];
  const [S0, S1, S2, S3, YV] = [14, 15, 16, 17, 18];
  const s = [S0, S1, S2, S3], wp = [W0, W1, W2, W3];
  const c = new Code();
  c.get(ACC).i32Eqz().if_();
  c.i32(0).set(P);
  c.whileBelow(P, CB, () => {
    c.get(Y).get(P).i32Add().v128Zero().v128Store(0, 2);
    c.addImm(P, 16);
  });
  c.end();
  c.get(K).i32(-4).i32And().set(K4);
  c.i32(0).set(KK);
  c.get(W).set(W0);
  c.get(X).set(XP);
  c.whileBelow(KK, K4, () => {
    c.get(W0).get(CB).i32Add().set(W1);
    c.get(W1).get(CB).i32Add().set(W2);
    c.get(W2).get(CB).i32Add().set(W3);
    for (let j = 0; j < 4; j++) c.get(XP).v128Load32Splat(4 * j).set(s[j]!);
    c.i32(0).set(P);
    c.whileBelow(P, CB, () => {
      c.get(Y).get(P).i32Add().v128Load(0, 2).set(YV);
      for (let j = 0; j < 4; j++) c.get(YV).get(wp[j]!).get(P).i32Add().v128Load(0, 2).get(s[j]!).f32x4Mul().f32x4Add().set(YV);
      c.get(Y).get(P).i32Add().get(YV).v128Store(0, 2);
      c.addImm(P, 16);
    });
    c.get(W3).get(CB).i32Add().set(W0);
    c.addImm(XP, 16);
    c.addImm(KK, 4);
  });
  c.whileBelow(KK, K, () => {
    c.get(XP).v128Load32Splat(0).set(S0);
    c.i32(0).set(P);
    c.whileBelow(P, CB, () => {
      c.get(Y).get(P).i32Add();
      c.get(Y).get(P).i32Add().v128Load(0, 2).get(W0).get(P).i32Add().v128Load(0, 2).get(S0).f32x4Mul().f32x4Add();
      c.v128Store(0, 2);
      c.addImm(P, 16);
    });
    c.addLocal(W0, CB);
    c.addImm(XP, 4);
    c.addImm(KK, 1);
  });
  return { params: [I32, I32, I32, I32, I32, I32], results: [], locals: [I32, I32, I32, I32, I32, I32, I32, I32, V128, V128, V128, V128, V128], body: c, export: 'axpy' };
}

type Fn = (w: number, x: number, y: number, n: number, bytes: number, acc: number) => void;

export class WasmGemv {
  private constructor(private readonly memory: WebAssembly.Memory, private readonly dot: Fn, private readonly axpy: Fn) {}

  static create(): WasmGemv {
    const { memory, exports: e } = instantiate([dotFunc(), axpyFunc()]);
    return new WasmGemv(memory, e['dot'] as Fn, e['axpy'] as Fn);
  }

  /** A product with M = 1 or N = 1 whose vector-side length (dot: K, axpy: rows) is a multiple of 4, within the module's 1 GiB. */
  static supports(args: Pick<MatmulArgs, 'm' | 'n' | 'k' | 'transA' | 'transB'>): boolean {
    const f = gemvForm(args);
    if (!f || f.rows === 0) return false;
    if ((f.kind === 'dot' ? f.inner : f.rows) % 4 !== 0) return false;
    return f.rows * f.inner + f.inner + f.rows + 8 <= MAX_FLOATS;
  }

  run(args: MatmulArgs): void {
    const f = gemvForm(args)!;
    const { batch, a, b, out, aStride, bStride, accumulate } = args;
    const { rows, inner } = f;
    const [mat, vec, mStride, vStride] = f.matrix === 'a' ? [a, b, aStride, bStride] : [b, a, bStride, aStride];
    const wn = rows * inner;
    // float offsets: W · x · y (each a multiple of 4 floats: wn is, since rows or inner is)
    const X = wn, Y = X + ((inner + 3) & ~3);
    const buf = reserve(this.memory, (Y + rows + 4) * 4);
    const m32 = new Float32Array(buf);
    const fn = f.kind === 'dot' ? this.dot : this.axpy;
    const bytes = 4 * (f.kind === 'dot' ? inner : rows);
    const n = f.kind === 'dot' ? rows : inner;
    for (let i = 0; i < batch; i++) {
      // a matrix broadcast over the batch (stride 0) is copied once
      if (i === 0 || mStride !== 0) m32.set(mat.subarray(i * mStride, i * mStride + wn), 0);
      m32.set(vec.subarray(i * vStride, i * vStride + inner), X);
      const y = out.subarray(i * rows, (i + 1) * rows);
      if (accumulate) m32.set(y, Y);
      fn(0, 4 * X, 4 * Y, n, bytes, accumulate ? 1 : 0);
      y.set(m32.subarray(Y, Y + rows));
    }
  }
}
