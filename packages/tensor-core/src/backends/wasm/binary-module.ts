/**
 * Elementwise add / sub / mul / div (BinaryArgs) and the f64 sum of squares (SumSquaresArgs) in
 * WebAssembly SIMD. The binary ops are bit-identical to the cpu oracle: JavaScript computes
 * a ∘ b in f64 and rounds to f32 on store, which for +, −, ×, ÷ of two f32 values is the
 * correctly rounded f32 result that f32x4 computes (53 ≥ 2·24 + 2 bits: double rounding is
 * innocuous). The sum of squares promotes each lane to f64 before squaring, like the oracle, and
 * differs from it only in the order of the f64 additions.
 *
 * Why: autograd's gradient accumulation, residual adds and the global gradient norm are plain
 * loops over every activation or parameter; in JavaScript they ran at 1.5–4 ns per element here,
 * in SIMD (with the copies through the scratch) at ~0.3–0.5.
 *
 * Operands stream through the module's memory in chunks of CHUNK elements.
 * Regions (f32, CHUNK each): a (and the result) · b.
 */
import type { BinaryArgs, BinaryOpName, SumSquaresArgs } from '../../registry.js';
import { Code, F64, I32, V128, type FuncDef } from './wasm-emitter.js';
import { instantiate } from './scratch-module.js';

export const CHUNK = 8192;
const C4 = CHUNK * 4;

/** op(bytes): a ← a ∘ b over bytes/4 floats. */
function binaryFunc(op: BinaryOpName): FuncDef {
  const BYTES = 0, P = 1;
  const c = new Code();
  c.i32(0).set(P);
  c.whileBelow(P, BYTES, () => {
    c.get(P);
    c.get(P).v128Load(0).get(P).v128Load(C4);
    if (op === 'add') c.f32x4Add();
    else if (op === 'sub') c.f32x4Sub();
    else if (op === 'mul') c.f32x4Mul();
    else c.f32x4Div();
    c.v128Store(0);
    c.addImm(P, 16);
  });
  return { params: [I32], results: [], locals: [I32], body: c, export: op };
}

/** sumsq(bytes) → Σ a² in f64 (two f64x2 accumulators: lanes 0–1 and 2–3 of each vector). */
function sumSquaresFunc(): FuncDef {
  const BYTES = 0, P = 1, X = 2, LO = 3, HI = 4, A0 = 5, A1 = 6;
  const c = new Code();
  c.i32(0).set(P);
  c.v128Zero().set(A0);
  c.v128Zero().set(A1);
  c.whileBelow(P, BYTES, () => {
    c.get(P).v128Load(0).set(X);
    c.get(X).f64x2PromoteLowF32x4().set(LO);
    c.get(X).get(X).shuffleF32(2, 3, 2, 3).f64x2PromoteLowF32x4().set(HI);
    c.get(A0).get(LO).get(LO).f64x2Mul().f64x2Add().set(A0);
    c.get(A1).get(HI).get(HI).f64x2Mul().f64x2Add().set(A1);
    c.addImm(P, 16);
  });
  c.get(A0).f64x2ExtractLane(0).get(A0).f64x2ExtractLane(1).f64Add();
  c.get(A1).f64x2ExtractLane(0).get(A1).f64x2ExtractLane(1).f64Add();
  c.f64Add();
  return { params: [I32], results: [F64], locals: [I32, V128, V128, V128, V128, V128], body: c, export: 'sumsq' };
}

export class WasmBinary {
  private readonly a: Float32Array;
  private readonly b: Float32Array;

  private constructor(memory: WebAssembly.Memory, private readonly ops: Record<BinaryOpName, (bytes: number) => void>, private readonly sumsq: (bytes: number) => number) {
    this.a = new Float32Array(memory.buffer, 0, CHUNK);
    this.b = new Float32Array(memory.buffer, C4, CHUNK);
  }

  static create(): WasmBinary {
    const names: BinaryOpName[] = ['add', 'sub', 'mul', 'div'];
    const { memory, exports: e } = instantiate([...names.map(binaryFunc), sumSquaresFunc()], 2 * C4);
    const ops = Object.fromEntries(names.map((n) => [n, e[n] as (b: number) => void])) as Record<BinaryOpName, (b: number) => void>;
    return new WasmBinary(memory, ops, e['sumsq'] as (b: number) => number);
  }

  /** Below this many elements the copies and the call cost more than the JavaScript loop. */
  static readonly MIN_ELEMENTS = 1024;

  binary({ op, a, b, out }: BinaryArgs): void {
    const fn = this.ops[op];
    const A = this.a, B = this.b;
    for (let i = 0; i < out.length; i += CHUNK) {
      const e = Math.min(out.length, i + CHUNK), len = e - i;
      A.set(a.subarray(i, e));
      B.set(b.subarray(i, e));
      fn(((len + 3) >> 2) << 4);
      out.set(len === CHUNK ? A : A.subarray(0, len), i);
    }
  }

  sumSquares({ x, acc }: SumSquaresArgs): void {
    const A = this.a;
    let s = 0;
    for (let i = 0; i < x.length; i += CHUNK) {
      const e = Math.min(x.length, i + CHUNK), len = e - i;
      A.set(x.subarray(i, e));
      const bytes = ((len + 3) >> 2) << 4;
      // the last vector's lanes past the end must square to 0
      A.fill(0, len, bytes >> 2);
      s += this.sumsq(bytes);
    }
    acc[0]! += s;
  }
}
