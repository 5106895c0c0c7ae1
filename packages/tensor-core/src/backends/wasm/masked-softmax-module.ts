/**
 * Attention's masked, scaled row softmax and its gradient (MaskedSoftmaxArgs,
 * MaskedSoftmaxBackwardArgs) in WebAssembly SIMD. Attention rows are short (T keys), so the
 * per-row work of the generic path (a scale-and-mask loop in JavaScript, then `expRows` with a
 * copy and two module calls per row, then a normalising loop) cost more than the arithmetic: for
 * a stories110M-shaped training step, ~0.3 s of 3.5. Here a block of rows is copied in with one
 * `set`, and one module call runs every pass of every row in it.
 *
 * Layout: rows are padded to a multiple of four floats (`colsP`), so a row is whole vectors and a
 * vector never straddles two rows; lanes at or beyond a row's valid count are masked (−∞ before
 * the maximum, 0 in every store), so what the padding holds never matters. Memory: the block's
 * valid counts (i32), then one (forward) or two (backward: p, g) regions of rows, BLOCK floats
 * each (in L2 with the copies).
 */
import type { MaskedSoftmaxArgs, MaskedSoftmaxBackwardArgs } from '../../registry.js';
import { validColumns } from '../cpu/masked-softmax.js';
import { Code, F32, F64, I32, V128, type FuncDef, type ValType } from './wasm-emitter.js';
import { MAX_FLOATS, instantiate, reserve } from './scratch-module.js';
import { EXP_LOCALS, emitExpAndSum, simdExp } from './simd-exp.js';

/** Floats per region and block (128 KiB). */
const BLOCK = 1 << 15;

/** Pushes the byte length of `valid` floats rounded up to whole vectors: ((valid + 3) << 2) & ~15. */
function vectorBytes(c: Code, VALID: number): Code {
  return c.get(VALID).i32(3).i32Add().i32(2).i32Shl().i32(-16).i32And();
}

/**
 * fwd(row, validPtr, rows, rowBytes, scale): for each row, t = x·scale (lanes ≥ valid: −∞),
 * m = max t, e = exp(t − m) with Σ e in f64, p = e·f32(1/Σ) (lanes ≥ valid: 0), and the
 * vectors past the valid ones zeroed.
 */
function fwdFunc(): FuncDef {
  const [ROW, VP, ROWS, RB, SCALE] = [0, 1, 2, 3, 4];
  const [R, P, END, RE, VALID] = [5, 6, 7, 8, 9];
  const MX = 10;
  const SUM = 11;
  const [sScale, sNegInf, IDX, sFour, VV, MASK, T, ACC, Y, SA, SB, sMX, EMASK, sINV] = [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25];
  const c = new Code();
  const e = simdExp(c, 26);
  e.init();
  c.get(SCALE).f32x4Splat().set(sScale);
  c.f32Const(-Infinity).f32x4Splat().set(sNegInf);
  c.i32(4).i32x4Splat().set(sFour);
  c.i32(0).set(R);
  c.whileBelow(R, ROWS, () => {
    c.get(VP).i32Load(0).tee(VALID).i32x4Splat().set(VV);
    vectorBytes(c, VALID).get(ROW).i32Add().set(END);
    c.get(ROW).get(RB).i32Add().set(RE);
    // pass 1: scaled scores, −∞ beyond the valid lanes, and their maximum
    c.v128ConstI32(0, 1, 2, 3).set(IDX);
    c.get(sNegInf).set(ACC);
    c.get(ROW).set(P);
    c.whileBelow(P, END, () => {
      c.get(IDX).get(VV).i32x4LtS().set(MASK);
      c.get(P).v128Load(0).get(sScale).f32x4Mul().get(sNegInf).get(MASK).v128Bitselect().set(T);
      c.get(P).get(T).v128Store(0);
      c.get(ACC).get(T).f32x4Pmax().set(ACC);
      c.get(IDX).get(sFour).i32x4Add().set(IDX);
      c.addImm(P, 16);
    });
    c.get(ACC).f32x4ExtractLane(0).get(ACC).f32x4ExtractLane(1).f32Max();
    c.get(ACC).f32x4ExtractLane(2).get(ACC).f32x4ExtractLane(3).f32Max();
    c.f32Max().tee(MX).f32x4Splat().set(sMX);
    // pass 2: exponentials (below EXP_MIN, −∞ included: 0) and their f64 sum
    c.v128Zero().set(SA);
    c.v128Zero().set(SB);
    c.get(ROW).set(P);
    c.whileBelow(P, END, () => {
      emitExpAndSum(c, e, { P, sMX, T, MASK: EMASK, Y, SA, SB });
      c.addImm(P, 16);
    });
    c.get(SA).f64x2ExtractLane(0).get(SA).f64x2ExtractLane(1).f64Add();
    c.get(SB).f64x2ExtractLane(0).get(SB).f64x2ExtractLane(1).f64Add();
    c.f64Add().set(SUM);
    c.f64Const(1).get(SUM).f64Div().f32DemoteF64().f32x4Splat().set(sINV);
    // pass 3: normalise; lanes beyond the valid ones 0 (even when the row is NaN)
    c.v128ConstI32(0, 1, 2, 3).set(IDX);
    c.get(ROW).set(P);
    c.whileBelow(P, END, () => {
      c.get(IDX).get(VV).i32x4LtS().set(MASK);
      c.get(P).get(P).v128Load(0).get(sINV).f32x4Mul().get(MASK).v128And().v128Store(0);
      c.get(IDX).get(sFour).i32x4Add().set(IDX);
      c.addImm(P, 16);
    });
    // pass 4: the masked columns' whole vectors
    c.whileBelow(P, RE, () => {
      c.get(P).v128Zero().v128Store(0);
      c.addImm(P, 16);
    });
    c.get(ROW).get(RB).i32Add().set(ROW);
    c.addImm(VP, 4);
    c.addImm(R, 1);
  });
  return {
    params: [I32, I32, I32, I32, F32],
    results: [],
    locals: [I32, I32, I32, I32, I32, F32, F64, ...new Array<ValType>(14 + EXP_LOCALS).fill(V128)],
    body: c,
    export: 'fwd',
  };
}

/**
 * bwd(p, g, validPtr, rows, rowBytes, scale): per row, dot = Σ g·p over the valid lanes (exact
 * f64 products, f64 sum), then g ← f32(p·(g − dot)·scale) computed in f64 two lanes at a time
 * (masked lanes and the vectors past the valid ones: 0).
 */
function bwdFunc(): FuncDef {
  const [PP, GP, VP, ROWS, RB, SCALE] = [0, 1, 2, 3, 4, 5];
  const [R, PO, END, VALID] = [6, 7, 8, 9];
  const DOT = 10;
  const [IDX, sFour, VV, MASK, PV, GV, SA, SB, sDOT, sSCALE, LO, HI] = [11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22];
  const c = new Code();
  c.i32(4).i32x4Splat().set(sFour);
  c.get(SCALE).f64x2Splat().set(sSCALE);
  c.i32(0).set(R);
  c.whileBelow(R, ROWS, () => {
    c.get(VP).i32Load(0).tee(VALID).i32x4Splat().set(VV);
    vectorBytes(c, VALID).set(END);
    // dot over the valid lanes
    c.v128ConstI32(0, 1, 2, 3).set(IDX);
    c.v128Zero().set(SA);
    c.v128Zero().set(SB);
    c.i32(0).set(PO);
    c.whileBelow(PO, END, () => {
      c.get(IDX).get(VV).i32x4LtS().set(MASK);
      c.get(PP).get(PO).i32Add().v128Load(0).get(MASK).v128And().set(PV);
      c.get(GP).get(PO).i32Add().v128Load(0).get(MASK).v128And().set(GV);
      c.get(SA).get(PV).f64x2PromoteLowF32x4().get(GV).f64x2PromoteLowF32x4().f64x2Mul().f64x2Add().set(SA);
      c.get(SB).get(PV).get(PV).shuffleF32(2, 3, 0, 1).f64x2PromoteLowF32x4();
      c.get(GV).get(GV).shuffleF32(2, 3, 0, 1).f64x2PromoteLowF32x4().f64x2Mul().f64x2Add().set(SB);
      c.get(IDX).get(sFour).i32x4Add().set(IDX);
      c.addImm(PO, 16);
    });
    c.get(SA).f64x2ExtractLane(0).get(SA).f64x2ExtractLane(1).f64Add();
    c.get(SB).f64x2ExtractLane(0).get(SB).f64x2ExtractLane(1).f64Add();
    c.f64Add().tee(DOT).f64x2Splat().set(sDOT);
    // g ← p·(g − dot)·scale
    c.v128ConstI32(0, 1, 2, 3).set(IDX);
    c.i32(0).set(PO);
    c.whileBelow(PO, END, () => {
      c.get(IDX).get(VV).i32x4LtS().set(MASK);
      c.get(PP).get(PO).i32Add().v128Load(0).set(PV);
      c.get(GP).get(PO).i32Add().v128Load(0).set(GV);
      c.get(PV).f64x2PromoteLowF32x4().get(GV).f64x2PromoteLowF32x4().get(sDOT).f64x2Sub().f64x2Mul().get(sSCALE).f64x2Mul().set(LO);
      c.get(PV).get(PV).shuffleF32(2, 3, 0, 1).f64x2PromoteLowF32x4();
      c.get(GV).get(GV).shuffleF32(2, 3, 0, 1).f64x2PromoteLowF32x4().get(sDOT).f64x2Sub().f64x2Mul().get(sSCALE).f64x2Mul().set(HI);
      c.get(GP).get(PO).i32Add();
      c.get(LO).f32x4DemoteF64x2Zero().get(HI).f32x4DemoteF64x2Zero().shuffleF32(0, 1, 4, 5).get(MASK).v128And();
      c.v128Store(0);
      c.get(IDX).get(sFour).i32x4Add().set(IDX);
      c.addImm(PO, 16);
    });
    c.whileBelow(PO, RB, () => {
      c.get(GP).get(PO).i32Add().v128Zero().v128Store(0);
      c.addImm(PO, 16);
    });
    c.get(PP).get(RB).i32Add().set(PP);
    c.get(GP).get(RB).i32Add().set(GP);
    c.addImm(VP, 4);
    c.addImm(R, 1);
  });
  return {
    params: [I32, I32, I32, I32, I32, F64],
    results: [],
    locals: [I32, I32, I32, I32, F64, ...new Array<ValType>(12).fill(V128)],
    body: c,
    export: 'bwd',
  };
}

interface Layout {
  /** floats per padded row */
  colsP: number;
  /** rows per block */
  rowsPerBlock: number;
  /** byte offset of the first region (after the valid counts) */
  region: number;
  /** bytes per region */
  regionBytes: number;
}

export class WasmMaskedSoftmax {
  private f32: Float32Array;
  private i32: Int32Array;

  private constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly fwd: (row: number, vp: number, rows: number, rb: number, scale: number) => void,
    private readonly bwd: (p: number, g: number, vp: number, rows: number, rb: number, scale: number) => void,
  ) {
    this.f32 = new Float32Array(memory.buffer);
    this.i32 = new Int32Array(memory.buffer);
  }

  /** Compile synchronously (a small module); throws where WebAssembly SIMD is unavailable. */
  static create(): WasmMaskedSoftmax {
    const { memory, exports: e } = instantiate([fwdFunc(), bwdFunc()]);
    return new WasmMaskedSoftmax(memory, e['fwd'] as WasmMaskedSoftmax['fwd'], e['bwd'] as WasmMaskedSoftmax['bwd']);
  }

  /** Rows whose two padded copies fit the module's 1 GiB. */
  static supports(a: { cols: number }): boolean {
    return a.cols > 0 && 2 * (a.cols + 4) + 16 <= MAX_FLOATS;
  }

  forward({ x, out, rows, cols, scale, valid }: MaskedSoftmaxArgs): void {
    const L = this.layout(rows, cols, 1);
    for (let r0 = 0; r0 < rows; r0 += L.rowsPerBlock) {
      const n = Math.min(L.rowsPerBlock, rows - r0);
      this.counts(valid, r0, n, cols);
      this.copyIn(x, r0, n, cols, L, L.region);
      this.fwd(L.region, 0, n, L.colsP * 4, scale);
      this.copyOut(out, r0, n, cols, L, L.region);
    }
  }

  backward({ p, g, out, rows, cols, scale, valid }: MaskedSoftmaxBackwardArgs): void {
    const L = this.layout(rows, cols, 2);
    const pr = L.region, gr = L.region + L.regionBytes;
    for (let r0 = 0; r0 < rows; r0 += L.rowsPerBlock) {
      const n = Math.min(L.rowsPerBlock, rows - r0);
      this.counts(valid, r0, n, cols);
      this.copyIn(p, r0, n, cols, L, pr);
      this.copyIn(g, r0, n, cols, L, gr);
      this.bwd(pr, gr, 0, n, L.colsP * 4, scale);
      this.copyOut(out, r0, n, cols, L, gr);
    }
  }

  private layout(rows: number, cols: number, regions: number): Layout {
    const colsP = (cols + 3) & ~3;
    const rowsPerBlock = Math.max(1, Math.min(rows, Math.floor(BLOCK / colsP)));
    const region = (rowsPerBlock * 4 + 15) & ~15;
    const regionBytes = rowsPerBlock * colsP * 4;
    const need = region + regions * regionBytes;
    if (need > this.memory.buffer.byteLength) {
      const buf = reserve(this.memory, need);
      this.f32 = new Float32Array(buf);
      this.i32 = new Int32Array(buf);
    }
    return { colsP, rowsPerBlock, region, regionBytes };
  }

  /** The block's valid counts at byte 0, clamped to [0, cols]. */
  private counts(valid: Int32Array | null, r0: number, n: number, cols: number): void {
    const v = this.i32;
    for (let i = 0; i < n; i++) v[i] = validColumns(valid, r0 + i, cols);
  }

  private copyIn(src: Float32Array, r0: number, n: number, cols: number, L: Layout, at: number): void {
    const f = this.f32, base = at >> 2;
    if (L.colsP === cols) {
      f.set(src.subarray(r0 * cols, (r0 + n) * cols), base);
      return;
    }
    for (let i = 0; i < n; i++) f.set(src.subarray((r0 + i) * cols, (r0 + i + 1) * cols), base + i * L.colsP);
  }

  private copyOut(dst: Float32Array, r0: number, n: number, cols: number, L: Layout, at: number): void {
    const f = this.f32, base = at >> 2;
    if (L.colsP === cols) {
      dst.set(f.subarray(base, base + n * cols), r0 * cols);
      return;
    }
    for (let i = 0; i < n; i++) dst.set(f.subarray(base + i * L.colsP, base + i * L.colsP + cols), (r0 + i) * cols);
  }
}
