/**
 * RMSNorm forward (RmsNormArgs) in WebAssembly SIMD. Every layer runs it twice per forward (13 calls
 * in a stories15M step); the cpu oracle's two scalar passes cost ~5 ns per element on this class
 * of VM, about 2.5 ms of a 128-token stories15M prefill (tools/bench/profile.mjs), four lanes at a
 * time it is a fraction of that.
 *
 * Blocks of rows are copied into the module's memory in bulk (rows padded with zeros to four
 * lanes when cols is not a multiple of 4). Per block, `ssq` writes each row's Σ x² (f32x4 lanes,
 * added as (l0 + l1) + (l2 + l3); the oracle sums in f64, so results agree to f32 accuracy, not
 * bit for bit); JavaScript turns them into 1/sqrt(mean + eps) with the oracle's rounding points;
 * `scale` writes w·(x·inv). Two calls per block, not per row (a JS→wasm call costs ~100 ns here).
 *
 * Memory (f32): w [padded cols] · ss, inv [block] · x, y [block, padded cols].
 */
import type { RmsNormArgs } from '../../registry.js';
import { Code, I32, V128, type FuncDef } from './wasm-emitter.js';
import { MAX_FLOATS, instantiate, reserve } from './scratch-module.js';

/** Floats per x / y block region: 512 KiB each (as the backward's blocks). */
const BLOCK_FLOATS = 1 << 17;

/** ssq(x, ss, nrows, rowBytes): ss[r] = Σ x[r]² over the row's rowBytes/4 floats (a multiple of 4). */
function ssqFunc(): FuncDef {
  const [X, SS, NROWS, RB] = [0, 1, 2, 3];
  const [R, P, ACC, V] = [4, 5, 6, 7];
  const c = new Code();
  c.i32(0).set(R);
  c.whileBelow(R, NROWS, () => {
    c.v128Zero().set(ACC);
    c.i32(0).set(P);
    c.whileBelow(P, RB, () => {
      c.get(X).get(P).i32Add().v128Load(0).set(V);
      c.get(ACC).get(V).get(V).f32x4Mul().f32x4Add().set(ACC);
      c.addImm(P, 16);
    });
    c.get(SS);
    c.get(ACC).f32x4ExtractLane(0).get(ACC).f32x4ExtractLane(1).f32Add();
    c.get(ACC).f32x4ExtractLane(2).get(ACC).f32x4ExtractLane(3).f32Add();
    c.f32Add().f32Store(0);
    c.addLocal(X, RB).addImm(SS, 4);
    c.addImm(R, 1);
  });
  return { params: [I32, I32, I32, I32], results: [], locals: [I32, I32, V128, V128], body: c, export: 'ssq' };
}

/** scale(x, w, inv, y, nrows, rowBytes): y[r] = w · (x[r] · inv[r]), the products rounded as the oracle's. */
function scaleFunc(): FuncDef {
  const [X, W, INV, Y, NROWS, RB] = [0, 1, 2, 3, 4, 5];
  const [R, P, S] = [6, 7, 8];
  const c = new Code();
  c.i32(0).set(R);
  c.whileBelow(R, NROWS, () => {
    c.get(INV).f32Load(0).f32x4Splat().set(S);
    c.i32(0).set(P);
    c.whileBelow(P, RB, () => {
      c.get(Y).get(P).i32Add();
      c.get(W).get(P).i32Add().v128Load(0);
      c.get(X).get(P).i32Add().v128Load(0).get(S).f32x4Mul();
      c.f32x4Mul().v128Store(0);
      c.addImm(P, 16);
    });
    c.addLocal(X, RB).addLocal(Y, RB).addImm(INV, 4);
    c.addImm(R, 1);
  });
  return { params: [I32, I32, I32, I32, I32, I32], results: [], locals: [I32, I32, V128], body: c, export: 'scale' };
}

type Ssq = (x: number, ss: number, nrows: number, rowBytes: number) => void;
type Scale = (x: number, w: number, inv: number, y: number, nrows: number, rowBytes: number) => void;

export class WasmRmsNorm {
  private f32: Float32Array;

  private constructor(private readonly memory: WebAssembly.Memory, private readonly ssq: Ssq, private readonly scale: Scale) {
    this.f32 = new Float32Array(memory.buffer);
  }

  static create(): WasmRmsNorm {
    const { memory, exports: e } = instantiate([ssqFunc(), scaleFunc()]);
    return new WasmRmsNorm(memory, e['ssq'] as Ssq, e['scale'] as Scale);
  }

  static supports(a: RmsNormArgs): boolean {
    return a.cols > 0 && a.cols * 3 + 16 <= MAX_FLOATS;
  }

  /** Make room for `floats` f32 of scratch; returns the (possibly new) view. */
  private reserve(floats: number): Float32Array {
    if (floats > this.f32.length) this.f32 = new Float32Array(reserve(this.memory, floats * 4));
    return this.f32;
  }

  run(a: RmsNormArgs): void {
    const { x, weight, out, rows, cols, eps, invRms } = a;
    const padded = (cols + 3) & ~3;
    const block = Math.max(1, Math.min(rows, Math.floor(BLOCK_FLOATS / padded)));
    const b4 = (block + 3) & ~3;
    // regions: w [padded] · ss [b4] · inv [b4] · x [block·padded] · y [block·padded]
    const W = 0, SS = padded, INV = SS + b4, X = INV + b4, Y = X + block * padded;
    const f = this.reserve(Y + block * padded);
    f.set(weight, W);
    const bulk = padded === cols;
    // zero the padding lanes of every row slot once: rows only overwrite their first `cols` floats
    if (!bulk) for (let r = 0; r < block; r++) f.fill(0, X + r * padded + cols, X + (r + 1) * padded);
    if (!bulk) f.fill(0, W + cols, W + padded);
    for (let r0 = 0; r0 < rows; r0 += block) {
      const nr = Math.min(block, rows - r0);
      const o = r0 * cols;
      if (bulk) f.set(x.subarray(o, o + nr * cols), X);
      else for (let r = 0; r < nr; r++) f.set(x.subarray(o + r * cols, o + (r + 1) * cols), X + r * padded);
      this.ssq(X * 4, SS * 4, nr, padded * 4);
      for (let r = 0; r < nr; r++) {
        // the oracle's rounding points: variance and rsqrt in f32, as transformers computes them
        const inv = Math.fround(1 / Math.sqrt(Math.fround(f[SS + r]! / cols) + eps));
        f[INV + r] = inv;
        if (invRms) invRms[r0 + r] = inv;
      }
      this.scale(X * 4, W * 4, INV * 4, Y * 4, nr, padded * 4);
      if (bulk) out.set(f.subarray(Y, Y + nr * cols), o);
      else for (let r = 0; r < nr; r++) out.set(f.subarray(Y + r * padded, Y + r * padded + cols), o + r * cols);
    }
  }
}
