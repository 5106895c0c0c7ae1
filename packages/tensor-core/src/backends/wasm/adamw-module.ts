/**
 * AdamW in WebAssembly SIMD: the cpu oracle's arithmetic (backends/cpu/adamw.ts) four lanes at a
 * time, bit for bit (f32x4 +, −, ×, ÷, √ are the IEEE f32 operations the oracle rounds to).
 *
 * Why: the update is a handful of flops per parameter around a division and a square root; in
 * scalar JavaScript (f64 ÷ and √, f32↔f64 conversions) it ran at 7–12 ns per parameter here,
 * ~2 s per step for a 110M-parameter model, while the memory traffic it needs (read θ, g, m, v;
 * write θ, m, v: 28 bytes) takes ~2.5 ns at this machine's ~12 GB/s.
 *
 * The tensors live in JavaScript memory, so they are streamed through a small scratch area of
 * the module's own memory in chunks of CHUNK elements: the four chunk copies in and three out
 * stay in L2, and main memory sees each array once.
 *
 * Scratch layout (f32, byte offsets): θ [0, 4C) · g [4C, 8C) · m [8C, 12C) · v [12C, 16C).
 */
import type { AdamwArgs, AdamwStateArgs } from '../../registry.js';
import { adamwScalars } from '../cpu/adamw.js';
import { Code, F32, I32, V128, type FuncDef, type ValType } from './wasm-emitter.js';
import { instantiate } from './scratch-module.js';

/** Elements per chunk: 4 arrays × 8192 × 4 B = 128 KiB of scratch, inside a 512 KiB+ L2. */
export const CHUNK = 8192;

/**
 * adamw(bytes, gs, decay, w1, b2, w2, negStep, bc2Sqrt, eps): updates the first `bytes`/4
 * elements of the scratch chunk (`bytes` a multiple of 16; tail lanes compute on stale values and
 * are not copied back). Uses lerp's first form (w1 < 0.5); the caller checks.
 *
 * The resident form, adamwAt(bytes, mAt, vAt, gs, …), reads and writes m and v in place at byte
 * addresses mAt + P and vAt + P of the module's memory (optimizer state allocated there, see
 * AdamwStateArena) instead of the scratch regions; θ and g still come through the scratch.
 */
function adamwFunc(resident: boolean): FuncDef {
  const extra = resident ? 2 : 0;
  const BYTES = 0, MAT = 1, VAT = 2;
  const [GS, DECAY, W1, B2, W2, NEG, BC2, EPS] = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => i + extra) as [number, number, number, number, number, number, number, number];
  // locals after the params: P and the m / v addresses (i32), then v128 splats and temporaries
  const P = 9 + extra, MA = P + 1, VA = P + 2;
  const [sGS, sDECAY, sW1, sB2, sW2, sNEG, sBC2, sEPS, G, M, V] = Array.from({ length: 11 }, (_, i) => VA + 1 + i) as [number, number, number, number, number, number, number, number, number, number, number];
  const C4 = CHUNK * 4;
  const c = new Code();
  for (const [src, dst] of [[GS, sGS], [DECAY, sDECAY], [W1, sW1], [B2, sB2], [W2, sW2], [NEG, sNEG], [BC2, sBC2], [EPS, sEPS]] as const) {
    c.get(src).f32x4Splat().set(dst);
  }
  /** push the address of this vector's m (or v) and the memarg offset to use with it */
  const at = (which: 'm' | 'v'): number => {
    if (!resident) { c.get(P); return which === 'm' ? 2 * C4 : 3 * C4; }
    c.get(which === 'm' ? MA : VA);
    return 0;
  };
  c.i32(0).set(P);
  c.whileBelow(P, BYTES, () => {
    if (resident) {
      c.get(P).get(MAT).i32Add().set(MA);
      c.get(P).get(VAT).i32Add().set(VA);
    }
    // g' = g·gs
    c.get(P).v128Load(C4).get(sGS).f32x4Mul().set(G);
    // m = m + (g' − m)·w1
    let off = at('m');
    c.v128Load(off).set(M);
    c.get(M).get(G).get(M).f32x4Sub().get(sW1).f32x4Mul().f32x4Add().set(M);
    off = at('m');
    c.get(M).v128Store(off);
    // v = v·β2 + (w2·g')·g'
    off = at('v');
    c.v128Load(off).get(sB2).f32x4Mul().get(sW2).get(G).f32x4Mul().get(G).f32x4Mul().f32x4Add().set(V);
    off = at('v');
    c.get(V).v128Store(off);
    // θ = θ·decay + (negStep·m) / (√v / bc2Sqrt + ε)
    c.get(P);
    c.get(P).v128Load(0).get(sDECAY).f32x4Mul();
    c.get(sNEG).get(M).f32x4Mul();
    c.get(V).f32x4Sqrt().get(sBC2).f32x4Div().get(sEPS).f32x4Add();
    c.f32x4Div().f32x4Add();
    c.v128Store(0);
    c.addImm(P, 16);
  });
  return {
    params: [I32, ...(resident ? [I32, I32] : []), F32, F32, F32, F32, F32, F32, F32, F32] as ValType[],
    results: [],
    locals: [I32, I32, I32, ...new Array<ValType>(11).fill(V128)],
    body: c,
    export: resident ? 'adamwAt' : 'adamw',
  };
}

type AdamwFn = (bytes: number, gs: number, decay: number, w1: number, b2: number, w2: number, negStep: number, bc2Sqrt: number, eps: number) => void;
type AdamwAtFn = (bytes: number, mAt: number, vAt: number, gs: number, decay: number, w1: number, b2: number, w2: number, negStep: number, bc2Sqrt: number, eps: number) => void;

/** An arena's θ and g scratch regions (CHUNK floats each), before the state. */
const ARENA_SCRATCH_BYTES = 2 * 4 * CHUNK;

/** An arena's ceiling: 3 GiB of state (wasm32 memories stop at 4 GiB); larger requests get plain arrays. */
const MAX_ARENA_BYTES = 3 * 1024 ** 3;

/**
 * Optimizer state (m and v of many parameters) allocated inside a module's own memory, so the
 * update reads and writes it in place: per element only θ and g are copied in and θ out (3 copies
 * instead of 7). The memory is sized once and never grows, so the Float32Array views handed out
 * stay valid. Layout (bytes): θ scratch [0, 4C) · g scratch [4C, 8C) · then per parameter its m
 * and its v, each rounded up to whole f32x4 vectors so a chunk's tail lanes land in padding.
 */
export class AdamwStateArena {
  private readonly x: Float32Array;
  private readonly g: Float32Array;

  private constructor(readonly memory: WebAssembly.Memory, private readonly fn: AdamwAtFn) {
    this.x = new Float32Array(memory.buffer, 0, CHUNK);
    this.g = new Float32Array(memory.buffer, 4 * CHUNK, CHUNK);
  }

  /** Total bytes an arena for these parameter sizes needs. */
  static bytesFor(sizes: readonly number[]): number {
    return ARENA_SCRATCH_BYTES + sizes.reduce((t, n) => t + 2 * 4 * (((n + 3) >> 2) << 2), 0);
  }

  /** An arena holding zeroed m and v for each size, or null where it would be too large or memory is refused. */
  static create(sizes: readonly number[]): { arena: AdamwStateArena; states: { expAvg: Float32Array; expAvgSq: Float32Array }[] } | null {
    const bytes = AdamwStateArena.bytesFor(sizes);
    if (bytes > MAX_ARENA_BYTES) return null;
    let made: ReturnType<typeof instantiate>;
    try {
      made = instantiate([adamwFunc(true)], bytes);
    } catch {
      return null;
    }
    const arena = new AdamwStateArena(made.memory, made.exports['adamwAt'] as AdamwAtFn);
    let at = ARENA_SCRATCH_BYTES;
    const states = sizes.map((n) => {
      const padded = ((n + 3) >> 2) << 2;
      const expAvg = new Float32Array(made.memory.buffer, at, n);
      at += 4 * padded;
      const expAvgSq = new Float32Array(made.memory.buffer, at, n);
      at += 4 * padded;
      return { expAvg, expAvgSq };
    });
    return { arena, states };
  }

  /** The update of `a`, whose expAvg and expAvgSq are views of this arena. */
  update(a: AdamwArgs, s: ReturnType<typeof adamwScalars>): void {
    const { param, grad, expAvg, expAvgSq } = a;
    const n = param.length;
    const { x, g, fn } = this;
    for (let i = 0; i < n; i += CHUNK) {
      const e = Math.min(n, i + CHUNK);
      const len = e - i;
      x.set(param.subarray(i, e));
      g.set(grad.subarray(i, e));
      fn(((len + 3) >> 2) << 4, expAvg.byteOffset + 4 * i, expAvgSq.byteOffset + 4 * i, s.gradScale, s.decay, s.w1, s.beta2, s.w2, s.negStep, s.bc2Sqrt, s.eps);
      param.set(len === CHUNK ? x : x.subarray(0, len), i);
    }
  }
}

/** The compiled module with its scratch memory; `update` streams a tensor through it. */
export class WasmAdamw {
  private readonly x: Float32Array;
  private readonly g: Float32Array;
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  /** Arenas this kernel allocated, by their memory's buffer: their states update in place. */
  private readonly arenas = new WeakMap<ArrayBufferLike, AdamwStateArena>();

  private constructor(private readonly fn: AdamwFn, memory: WebAssembly.Memory) {
    const b = memory.buffer;
    this.x = new Float32Array(b, 0, CHUNK);
    this.g = new Float32Array(b, 4 * CHUNK, CHUNK);
    this.m = new Float32Array(b, 8 * CHUNK, CHUNK);
    this.v = new Float32Array(b, 12 * CHUNK, CHUNK);
  }

  /** Compile synchronously (a ~300-byte module); throws where WebAssembly SIMD is unavailable. */
  static create(): WasmAdamw {
    const { memory, exports } = instantiate([adamwFunc(false)], 16 * CHUNK);
    return new WasmAdamw(exports['adamw'] as AdamwFn, memory);
  }

  /** Whether this kernel computes the oracle's result for these scalars (lerp's first form). */
  static supports(a: AdamwArgs): boolean {
    return adamwScalars(a).w1 < 0.5;
  }

  /** Whether one arena can hold state for these sizes. */
  static supportsState(a: AdamwStateArgs): boolean {
    return AdamwStateArena.bytesFor(a.sizes) <= MAX_ARENA_BYTES;
  }

  /** Optimizer state for these sizes in one arena (see AdamwStateArena); plain arrays if the memory is refused. */
  allocState({ sizes, out }: AdamwStateArgs): void {
    const made = AdamwStateArena.create(sizes);
    if (!made) {
      for (const n of sizes) out.push({ expAvg: new Float32Array(n), expAvgSq: new Float32Array(n) });
      return;
    }
    this.arenas.set(made.arena.memory.buffer, made.arena);
    out.push(...made.states);
  }

  update(a: AdamwArgs): void {
    const s = adamwScalars(a);
    const { param, grad, expAvg, expAvgSq } = a;
    const arena = this.arenas.get(expAvg.buffer);
    if (arena && expAvgSq.buffer === expAvg.buffer) {
      arena.update(a, s);
      return;
    }
    const n = param.length;
    const { x, g, m, v, fn } = this;
    for (let i = 0; i < n; i += CHUNK) {
      const e = Math.min(n, i + CHUNK);
      const len = e - i;
      x.set(param.subarray(i, e));
      g.set(grad.subarray(i, e));
      m.set(expAvg.subarray(i, e));
      v.set(expAvgSq.subarray(i, e));
      fn(((len + 3) >> 2) << 4, s.gradScale, s.decay, s.w1, s.beta2, s.w2, s.negStep, s.bc2Sqrt, s.eps);
      param.set(len === CHUNK ? x : x.subarray(0, len), i);
      expAvg.set(len === CHUNK ? m : m.subarray(0, len), i);
      expAvgSq.set(len === CHUNK ? v : v.subarray(0, len), i);
    }
  }
}
