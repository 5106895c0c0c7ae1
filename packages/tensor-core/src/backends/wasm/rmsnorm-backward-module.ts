/**
 * RMSNorm backward (RmsNormBackwardArgs) in WebAssembly SIMD. Scalar JavaScript spends ~10 ns per
 * element on its three passes on this class of VM (each norm of a 110M-parameter model's step is
 * 512×768); four lanes at a time it is ~1.
 *
 * Blocks of rows are copied into the module's memory in bulk (rows padded with zeros to four
 * lanes when cols is not a multiple of 4) and one call (`rows`) runs the block: per row, Σ
 * g·w·x·inv in f32x4 (`rdot`; the oracle sums in f64: results agree to f32 accuracy, not bit for
 * bit), then `rgrad` writes gx and accumulates gw in a scratch copy of gw that goes back at the
 * end. One call per block, not per row: a JS→wasm call plus a subarray costs ~100 ns here.
 *
 * Memory (f32): w, gw [padded cols] · inv [block] · x, g, gx [block, padded cols].
 */
import type { RmsNormBackwardArgs } from '../../registry.js';
import { Code, F32, I32, V128, type FuncDef, type ValType } from './wasm-emitter.js';
import { MAX_FLOATS, instantiate, reserve } from './scratch-module.js';

/** Floats per x / g / gx block region: 512 KiB each (measured: 2^15 to 2^20 all within noise, ~1.5-2 ns/element). */
const BLOCK_FLOATS = 1 << 17;

/** rdot(x, g, w, bytes, iv) → f32: Σ ((g·w)·x)·iv over bytes/4 floats (bytes a multiple of 16). */
function rdotFunc(): FuncDef {
  const [X, G, W, BYTES, IV] = [0, 1, 2, 3, 4];
  const [P, ACC, SIV] = [5, 6, 7];
  const c = new Code();
  c.get(IV).f32x4Splat().set(SIV);
  c.v128Zero().set(ACC);
  c.i32(0).set(P);
  c.whileBelow(P, BYTES, () => {
    c.get(ACC);
    c.get(G).get(P).i32Add().v128Load(0).get(W).get(P).i32Add().v128Load(0).f32x4Mul();
    c.get(X).get(P).i32Add().v128Load(0).f32x4Mul().get(SIV).f32x4Mul();
    c.f32x4Add().set(ACC);
    c.addImm(P, 16);
  });
  c.get(ACC).f32x4ExtractLane(0).get(ACC).f32x4ExtractLane(1).f32Add();
  c.get(ACC).f32x4ExtractLane(2).get(ACC).f32x4ExtractLane(3).f32Add();
  c.f32Add();
  return { params: [I32, I32, I32, I32, F32], results: [F32], locals: [I32, V128, V128], body: c };
}

/**
 * rgrad(x, g, w, gw, gx, bytes, iv, meanDot, hasGw, hasGx): n = x·iv; gw += g·n; gx = iv·(g·w − n·meanDot).
 */
function rgradFunc(): FuncDef {
  const [X, G, W, GW, GX, BYTES, IV, MD, HGW, HGX] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [P, N, GV, SIV, SMD] = [10, 11, 12, 13, 14];
  const c = new Code();
  c.get(IV).f32x4Splat().set(SIV);
  c.get(MD).f32x4Splat().set(SMD);
  c.i32(0).set(P);
  c.whileBelow(P, BYTES, () => {
    c.get(X).get(P).i32Add().v128Load(0).get(SIV).f32x4Mul().set(N);
    c.get(G).get(P).i32Add().v128Load(0).set(GV);
    c.get(HGW).if_();
    c.get(GW).get(P).i32Add();
    c.get(GW).get(P).i32Add().v128Load(0).get(GV).get(N).f32x4Mul().f32x4Add();
    c.v128Store(0);
    c.end();
    c.get(HGX).if_();
    c.get(GX).get(P).i32Add();
    c.get(SIV).get(GV).get(W).get(P).i32Add().v128Load(0).f32x4Mul().get(N).get(SMD).f32x4Mul().f32x4Sub().f32x4Mul();
    c.v128Store(0);
    c.end();
    c.addImm(P, 16);
  });
  return { params: [I32, I32, I32, I32, I32, I32, F32, F32, I32, I32], results: [], locals: [I32, ...new Array<ValType>(4).fill(V128)], body: c };
}

/**
 * rows(x, g, w, gw, gx, inv, nrows, rowBytes, cols, hasGw, hasGx): every row of a block laid out
 * contiguously (row pitch rowBytes), meanDot = rdot / cols in f32 as the caller would round it.
 */
function rowsFunc(): FuncDef {
  const [X, G, W, GW, GX, INV, NROWS, RB, COLS, HGW, HGX] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const [R, IV] = [11, 12];
  const c = new Code();
  c.i32(0).set(R);
  c.whileBelow(R, NROWS, () => {
    c.get(INV).f32Load(0).set(IV);
    c.get(X).get(G).get(W).get(GW).get(GX).get(RB).get(IV);
    c.get(X).get(G).get(W).get(RB).get(IV).call(0).get(COLS).f32ConvertI32U().f32Div();
    c.get(HGW).get(HGX).call(1);
    c.addLocal(X, RB).addLocal(G, RB).addLocal(GX, RB).addImm(INV, 4);
    c.addImm(R, 1);
  });
  return { params: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32], results: [], locals: [I32, F32], body: c, export: 'rows' };
}

type Rows = (x: number, g: number, w: number, gw: number, gx: number, inv: number, nrows: number, rowBytes: number, cols: number, hasGw: number, hasGx: number) => void;

export class WasmRmsNormBackward {
  private f32: Float32Array;

  private constructor(private readonly memory: WebAssembly.Memory, private readonly rows: Rows) {
    this.f32 = new Float32Array(memory.buffer);
  }

  static create(): WasmRmsNormBackward {
    // rdot and rgrad are functions 0 and 1, called by `rows`
    const { memory, exports: e } = instantiate([rdotFunc(), rgradFunc(), rowsFunc()]);
    return new WasmRmsNormBackward(memory, e['rows'] as Rows);
  }

  static supports(a: RmsNormBackwardArgs): boolean {
    return a.cols > 0 && a.cols * 5 + 20 <= MAX_FLOATS;
  }

  /** Make room for `floats` f32 of scratch; returns the (possibly new) view. */
  private reserve(floats: number): Float32Array {
    if (floats > this.f32.length) this.f32 = new Float32Array(reserve(this.memory, floats * 4));
    return this.f32;
  }

  run(a: RmsNormBackwardArgs): void {
    const { x, weight, invRms, g, rows, cols, gx, gw } = a;
    const padded = (cols + 3) & ~3;
    // Rows per block: whole rows, ~1M floats per region (bulk copies, one wasm call per block).
    const block = Math.max(1, Math.min(rows, Math.floor(BLOCK_FLOATS / padded)));
    // regions: w, gw [padded] · inv [block, rounded to 4] · x, g, gx [block·padded]
    const W = 0, GW = padded, INV = 2 * padded, X = INV + ((block + 3) & ~3), G = X + block * padded, GX = G + block * padded;
    const f = this.reserve(GX + block * padded);
    f.set(weight, W);
    if (gw) f.set(gw, GW);
    const bulk = padded === cols;
    if (!bulk) {
      // zero the padding lanes of every row slot once: rows only overwrite their first `cols` floats
      for (let r = 0; r < block; r++) {
        f.fill(0, X + r * padded + cols, X + (r + 1) * padded);
        f.fill(0, G + r * padded + cols, G + (r + 1) * padded);
      }
    }
    for (let r0 = 0; r0 < rows; r0 += block) {
      const nr = Math.min(block, rows - r0);
      const o = r0 * cols;
      f.set(invRms.subarray(r0, r0 + nr), INV);
      if (bulk) {
        f.set(x.subarray(o, o + nr * cols), X);
        f.set(g.subarray(o, o + nr * cols), G);
      } else {
        for (let r = 0; r < nr; r++) {
          f.set(x.subarray(o + r * cols, o + (r + 1) * cols), X + r * padded);
          f.set(g.subarray(o + r * cols, o + (r + 1) * cols), G + r * padded);
        }
      }
      this.rows(X * 4, G * 4, W * 4, GW * 4, GX * 4, INV * 4, nr, padded * 4, cols, gw ? 1 : 0, gx ? 1 : 0);
      if (gx) {
        if (bulk) gx.set(f.subarray(GX, GX + nr * cols), o);
        else for (let r = 0; r < nr; r++) gx.set(f.subarray(GX + r * padded, GX + r * padded + cols), o + r * cols);
      }
    }
    if (gw) gw.set(f.subarray(GW, GW + cols));
  }
}
