/**
 * A tiny WebAssembly binary emitter: just the sections and opcodes the GEMM and AdamW modules
 * need (one imported memory, i32 arithmetic, structured loops, v128
 * loads/stores, f32x4 arithmetic).
 * Emitting bytes from TypeScript keeps the package free of a wabt/binaryen dependency and lets
 * the kernel be specialised (tile size, unroll, blocking) at runtime.
 */

export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  let v = n >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 for 32-bit values. */
export function sleb(n: number): number[] {
  const out: number[] = [];
  let v = n | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function utf8(s: string): number[] {
  return [...new TextEncoder().encode(s)];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

/** Instruction builder for one function body; methods chain. Locals are numbered params first. */
export class Code {
  readonly bytes: number[] = [];

  private op(...b: number[]): this {
    for (const x of b) this.bytes.push(x);
    return this;
  }
  private simd(opcode: number, ...imm: number[]): this {
    return this.op(0xfd, ...uleb(opcode), ...imm);
  }

  // control
  block(): this { return this.op(0x02, 0x40); }
  loop(): this { return this.op(0x03, 0x40); }
  if_(): this { return this.op(0x04, 0x40); }
  else_(): this { return this.op(0x05); }
  end(): this { return this.op(0x0b); }
  br(depth: number): this { return this.op(0x0c, ...uleb(depth)); }
  brIf(depth: number): this { return this.op(0x0d, ...uleb(depth)); }
  call(fn: number): this { return this.op(0x10, ...uleb(fn)); }
  select(): this { return this.op(0x1b); }

  // locals
  get(i: number): this { return this.op(0x20, ...uleb(i)); }
  set(i: number): this { return this.op(0x21, ...uleb(i)); }
  tee(i: number): this { return this.op(0x22, ...uleb(i)); }

  // i32
  i32(v: number): this { return this.op(0x41, ...sleb(v)); }
  i32Eqz(): this { return this.op(0x45); }
  i32Ne(): this { return this.op(0x47); }
  i32LtU(): this { return this.op(0x49); }
  i32GeU(): this { return this.op(0x4f); }
  i32Add(): this { return this.op(0x6a); }
  i32Sub(): this { return this.op(0x6b); }
  i32Mul(): this { return this.op(0x6c); }
  i32Or(): this { return this.op(0x72); }
  i32And(): this { return this.op(0x71); }
  i32ShrU(): this { return this.op(0x76); }
  i32Shl(): this { return this.op(0x74); }

  // f32 scalar memory access (align 2^2)
  i32Load(offset = 0): this { return this.op(0x28, 2, ...uleb(offset)); }
  i32Load16U(offset = 0): this { return this.op(0x2f, 1, ...uleb(offset)); }
  i32Store(offset = 0): this { return this.op(0x36, 2, ...uleb(offset)); }
  i32Store16(offset = 0): this { return this.op(0x3b, 1, ...uleb(offset)); }
  f32Load(offset = 0): this { return this.op(0x2a, 2, ...uleb(offset)); }
  f32Store(offset = 0): this { return this.op(0x38, 2, ...uleb(offset)); }
  f32Add(): this { return this.op(0x92); }
  f32Mul(): this { return this.op(0x94); }
  f32Div(): this { return this.op(0x95); }
  f32ConvertI32U(): this { return this.op(0xb3); }
  f32Max(): this { return this.op(0x97); }
  f32Const(v: number): this {
    const b = new Uint8Array(new Float32Array([v]).buffer);
    return this.op(0x43, ...b);
  }
  f64Add(): this { return this.op(0xa0); }
  f64Div(): this { return this.op(0xa3); }
  f32DemoteF64(): this { return this.op(0xb6); }
  f64Const(v: number): this {
    const b = new Uint8Array(new Float64Array([v]).buffer);
    return this.op(0x44, ...b);
  }

  // v128 (memarg: log2 alignment, byte offset)
  v128Load(offset = 0, alignLog2 = 4): this { return this.simd(0x00, alignLog2, ...uleb(offset)); }
  v128Load32Splat(offset = 0): this { return this.simd(0x09, 2, ...uleb(offset)); }
  v128Store(offset = 0, alignLog2 = 4): this { return this.simd(0x0b, alignLog2, ...uleb(offset)); }
  v128Zero(): this { return this.simd(0x0c, ...new Array<number>(16).fill(0)); }
  /** v128.const of four i32 lanes. */
  v128ConstI32(l0: number, l1: number, l2: number, l3: number): this {
    return this.simd(0x0c, ...new Uint8Array(new Int32Array([l0, l1, l2, l3]).buffer));
  }
  /** i8x16.shuffle expressed in f32 lanes: lanes 0-3 pick from the first operand, 4-7 from the second. */
  shuffleF32(l0: number, l1: number, l2: number, l3: number): this {
    const bytes = [l0, l1, l2, l3].flatMap((l) => [l * 4, l * 4 + 1, l * 4 + 2, l * 4 + 3]);
    return this.simd(0x0d, ...bytes);
  }
  f32x4Splat(): this { return this.simd(0x13); }
  i32x4Splat(): this { return this.simd(0x11); }
  f32x4ExtractLane(lane: number): this { return this.simd(0x1f, lane); }
  f64x2ExtractLane(lane: number): this { return this.simd(0x21, lane); }
  f32x4Lt(): this { return this.simd(0x43); }
  i32x4LtS(): this { return this.simd(0x39); }
  v128And(): this { return this.simd(0x4e); }
  /** bitselect(a, b, mask) = (a & mask) | (b & ~mask) (operands pushed a, b, mask). */
  v128Bitselect(): this { return this.simd(0x52); }
  /** [f32(a0), f32(a1), 0, 0] from an f64x2. */
  f32x4DemoteF64x2Zero(): this { return this.simd(0x5e); }
  f64x2Splat(): this { return this.simd(0x14); }
  f64x2Sub(): this { return this.simd(0xf1); }
  v128AndNot(): this { return this.simd(0x4f); }
  f64x2PromoteLowF32x4(): this { return this.simd(0x5f); }
  f32x4Nearest(): this { return this.simd(0x6a); }
  i32x4Shl(): this { return this.simd(0xab); }
  i32x4Add(): this { return this.simd(0xae); }
  f32x4Max(): this { return this.simd(0xe9); }
  /** Pseudo-maximum: pmax(a, b) = a < b ? b : a (one maxps on x64). */
  f32x4Pmax(): this { return this.simd(0xeb); }
  /** Pseudo-minimum: pmin(a, b) = b < a ? b : a (one minps on x64). */
  f32x4Pmin(): this { return this.simd(0xea); }
  f64x2Add(): this { return this.simd(0xf0); }
  f64x2Mul(): this { return this.simd(0xf2); }
  i32x4TruncSatF32x4S(): this { return this.simd(0xf8); }
  f32x4Sqrt(): this { return this.simd(0xe3); }
  f32x4Add(): this { return this.simd(0xe4); }
  f32x4Sub(): this { return this.simd(0xe5); }
  f32x4Mul(): this { return this.simd(0xe6); }
  f32x4Div(): this { return this.simd(0xe7); }
  /** Relaxed SIMD fused multiply-add: a*b + c (operands pushed a, b, c). */
  f32x4RelaxedMadd(): this { return this.simd(0x105); }

  /** `local = min(a, b)` for two locals holding unsigned i32s. */
  minU(dst: number, a: number, b: number): this {
    return this.get(a).get(b).get(a).get(b).i32LtU().select().set(dst);
  }
  /** `local += imm`. */
  addImm(local: number, imm: number): this {
    return this.get(local).i32(imm).i32Add().set(local);
  }
  /**
   * `while (counter < limit) body()`, both i32 locals compared unsigned: the test runs before the
   * first pass (a zero-trip loop is skipped) and after each; `body` must advance the counter.
   */
  whileBelow(counter: number, limit: number, body: () => void): this {
    this.block();
    this.get(counter).get(limit).i32GeU().brIf(0);
    this.loop();
    body();
    this.get(counter).get(limit).i32LtU().brIf(0);
    this.end();
    this.end();
    return this;
  }
  /** `local += other`. */
  addLocal(local: number, other: number): this {
    return this.get(local).get(other).i32Add().set(local);
  }
}

export interface FuncDef {
  params: ValType[];
  results: ValType[];
  /** Extra locals after the params, in order. */
  locals: ValType[];
  body: Code;
  export?: string;
}

export interface ModuleDef {
  /** Imported as env.memory. */
  memory: { initialPages: number; maximumPages: number; shared: boolean };
  funcs: FuncDef[];
}

/** Assemble a module: one type per function, memory import, functions, exports. */
export function emitModule(def: ModuleDef): Uint8Array<ArrayBuffer> {
  const types = def.funcs.map((f) => [0x60, ...vec(f.params.map((t) => [t])), ...vec(f.results.map((t) => [t]))]);
  const { initialPages, maximumPages, shared } = def.memory;
  // import "env" "memory": kind 0x02, limits flags 0x01 (has max) | 0x02 (shared)
  const memImport = [
    ...uleb(3), ...utf8('env'),
    ...uleb(6), ...utf8('memory'),
    0x02, shared ? 0x03 : 0x01, ...uleb(initialPages), ...uleb(maximumPages),
  ];
  const funcIdx = def.funcs.map((_, i) => uleb(i));
  const exports = def.funcs.flatMap((f, i) => (f.export ? [[...uleb(utf8(f.export).length), ...utf8(f.export), 0x00, ...uleb(i)]] : []));
  const bodies = def.funcs.map((f) => {
    // run-length encode consecutive locals of the same type
    const groups: number[][] = [];
    for (let i = 0; i < f.locals.length; ) {
      let j = i;
      while (j < f.locals.length && f.locals[j] === f.locals[i]) j++;
      groups.push([...uleb(j - i), f.locals[i]!]);
      i = j;
    }
    const body = [...vec(groups), ...f.body.bytes, 0x0b];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([memImport])),
    ...section(3, vec(funcIdx)),
    ...section(7, vec(exports)),
    ...section(10, vec(bodies)),
  ]);
}
