/**
 * Row-wise shifted exponentials (ExpRowsArgs) in WebAssembly SIMD: the exponential cross-entropy
 * spends its time in (LLaMA's vocabulary is 32000 columns per token). Math.exp costs ~20 ns per
 * element here; this polynomial runs four lanes at a time.
 *
 * exp(t), t = x − row max ≤ 0, is simd-exp.ts's polynomial: relative error below 1e-6 + 6e-8·|t|
 * (t rounded to f32); below −87.3365 (where 2ⁿ would be subnormal) the result is 0, where Math.exp
 * gives < 1.2e-38. ~1.6 ns per element with the copies (Math.exp: ~13).
 * Sums are accumulated in f64 (two f64x2 accumulators), as the oracle does.
 *
 * A row is copied into the module's memory (grown to the widest row seen), padded to a multiple
 * of sixteen lanes with −∞ (max ignores it, exp gives 0), then `rowmax` and `exprow` run over it
 * in place and the exponentials are copied out when wanted.
 */
import type { ExpRowsArgs } from '../../registry.js';
import { Code, F32, F64, I32, V128, type FuncDef, type ValType } from './wasm-emitter.js';
import { MAX_FLOATS, instantiate, reserve } from './scratch-module.js';
import { EXP_LOCALS, emitExpAndSum, simdExp } from './simd-exp.js';

export { EXP_MIN } from './simd-exp.js';

/**
 * rowmax(bytes) → f32: maximum of the first bytes/4 floats (bytes a multiple of 64, > 0; the caller
 * pads with −∞). Four accumulators of pmax (one maxps each on x64; the NaN-propagating f32x4.max
 * is a six-instruction sequence on the critical path). A NaN may be skipped here; it still
 * reaches the row's sum through exprow.
 */
function rowmaxFunc(): FuncDef {
  const [BYTES, P, A0, A1, A2, A3] = [0, 1, 2, 3, 4, 5];
  const acc = [A0, A1, A2, A3];
  const c = new Code();
  acc.forEach((a, i) => c.i32(0).v128Load(16 * i).set(a));
  c.i32(64).set(P);
  c.whileBelow(P, BYTES, () => {
    acc.forEach((a, i) => c.get(a).get(P).v128Load(16 * i).f32x4Pmax().set(a));
    c.addImm(P, 64);
  });
  c.get(A0).get(A1).f32x4Pmax().get(A2).get(A3).f32x4Pmax().f32x4Pmax().set(A0);
  c.get(A0).f32x4ExtractLane(0).get(A0).f32x4ExtractLane(1).f32Max();
  c.get(A0).f32x4ExtractLane(2).get(A0).f32x4ExtractLane(3).f32Max();
  c.f32Max();
  return { params: [I32], results: [F32], locals: [I32, V128, V128, V128, V128], body: c, export: 'rowmax' };
}

/** exprow(bytes, max) → f64: x ← exp(x − max) in place over the first bytes/4 floats; returns Σ. */
function exprowFunc(): FuncDef {
  const [BYTES, MX] = [0, 1];
  const [P, T, Y, MASK, SA, SB, sMX] = [2, 3, 4, 5, 6, 7, 8];
  const c = new Code();
  const e = simdExp(c, 9);
  e.init();
  c.get(MX).f32x4Splat().set(sMX);
  c.v128Zero().set(SA);
  c.v128Zero().set(SB);
  c.i32(0).set(P);
  c.whileBelow(P, BYTES, () => {
    // t = x − max; lanes below EXP_MIN (−∞ padding included) give 0
    emitExpAndSum(c, e, { P, sMX, T, MASK, Y, SA, SB });
    c.addImm(P, 16);
  });
  c.get(SA).f64x2ExtractLane(0).get(SA).f64x2ExtractLane(1).f64Add();
  c.get(SB).f64x2ExtractLane(0).get(SB).f64x2ExtractLane(1).f64Add();
  c.f64Add();
  return { params: [I32, F32], results: [F64], locals: [I32, ...new Array<ValType>(6 + EXP_LOCALS).fill(V128)], body: c, export: 'exprow' };
}

export class WasmExpRows {
  private f32: Float32Array;

  private constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly rowmax: (bytes: number) => number,
    private readonly exprow: (bytes: number, max: number) => number,
  ) {
    this.f32 = new Float32Array(memory.buffer);
  }

  /** Compile synchronously (a small module); throws where WebAssembly SIMD is unavailable. */
  static create(): WasmExpRows {
    const { memory, exports: e } = instantiate([rowmaxFunc(), exprowFunc()]);
    return new WasmExpRows(memory, e['rowmax'] as (b: number) => number, e['exprow'] as (b: number, m: number) => number);
  }

  /** Rows up to the module's 1 GiB (256M columns). */
  static supports(a: ExpRowsArgs): boolean {
    return a.cols > 0 && a.cols <= MAX_FLOATS - 16;
  }

  run(a: ExpRowsArgs): void {
    const { x, out, rows, cols, max, sum } = a;
    // 16 lanes: rowmax reads four vectors per iteration
    const padded = (cols + 15) & ~15;
    if (padded > this.f32.length) this.f32 = new Float32Array(reserve(this.memory, padded * 4));
    const f = this.f32;
    const bytes = padded * 4;
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      f.set(x.subarray(o, o + cols));
      for (let c = cols; c < padded; c++) f[c] = -Infinity;
      const mx = this.rowmax(bytes);
      max[r] = mx;
      sum[r] = this.exprow(bytes, mx);
      if (out) out.set(f.subarray(0, cols), o);
    }
  }
}
