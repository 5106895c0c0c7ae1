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
import type { AdamwArgs } from '../../registry.js';
import { adamwScalars } from '../cpu/adamw.js';
import { Code, F32, I32, V128, type FuncDef, type ValType } from './wasm-emitter.js';
import { instantiate } from './scratch-module.js';

/** Elements per chunk: 4 arrays × 8192 × 4 B = 128 KiB of scratch, inside a 512 KiB+ L2. */
export const CHUNK = 8192;

/**
 * adamw(bytes, gs, decay, w1, b2, w2, negStep, bc2Sqrt, eps): updates the first `bytes`/4
 * elements of the scratch chunk (`bytes` a multiple of 16; tail lanes compute on stale values and
 * are not copied back). Uses lerp's first form (w1 < 0.5); the caller checks.
 */
function adamwFunc(): FuncDef {
  const [BYTES, GS, DECAY, W1, B2, W2, NEG, BC2, EPS] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  // locals after the params: P (i32), then v128 splats and temporaries
  const P = 9;
  const [sGS, sDECAY, sW1, sB2, sW2, sNEG, sBC2, sEPS, G, M, V] = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20];
  const C4 = CHUNK * 4;
  const c = new Code();
  for (const [src, dst] of [[GS, sGS], [DECAY, sDECAY], [W1, sW1], [B2, sB2], [W2, sW2], [NEG, sNEG], [BC2, sBC2], [EPS, sEPS]] as const) {
    c.get(src).f32x4Splat().set(dst);
  }
  c.i32(0).set(P);
  c.whileBelow(P, BYTES, () => {
    // g' = g·gs
    c.get(P).v128Load(C4).get(sGS).f32x4Mul().set(G);
    // m = m + (g' − m)·w1
    c.get(P).v128Load(2 * C4).set(M);
    c.get(M).get(G).get(M).f32x4Sub().get(sW1).f32x4Mul().f32x4Add().set(M);
    c.get(P).get(M).v128Store(2 * C4);
    // v = v·β2 + (w2·g')·g'
    c.get(P).v128Load(3 * C4).get(sB2).f32x4Mul().get(sW2).get(G).f32x4Mul().get(G).f32x4Mul().f32x4Add().set(V);
    c.get(P).get(V).v128Store(3 * C4);
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
    params: [I32, F32, F32, F32, F32, F32, F32, F32, F32],
    results: [],
    locals: [I32, ...new Array<ValType>(11).fill(V128)],
    body: c,
    export: 'adamw',
  };
}

type AdamwFn = (bytes: number, gs: number, decay: number, w1: number, b2: number, w2: number, negStep: number, bc2Sqrt: number, eps: number) => void;

/** The compiled module with its scratch memory; `update` streams a tensor through it. */
export class WasmAdamw {
  private readonly x: Float32Array;
  private readonly g: Float32Array;
  private readonly m: Float32Array;
  private readonly v: Float32Array;

  private constructor(private readonly fn: AdamwFn, memory: WebAssembly.Memory) {
    const b = memory.buffer;
    this.x = new Float32Array(b, 0, CHUNK);
    this.g = new Float32Array(b, 4 * CHUNK, CHUNK);
    this.m = new Float32Array(b, 8 * CHUNK, CHUNK);
    this.v = new Float32Array(b, 12 * CHUNK, CHUNK);
  }

  /** Compile synchronously (a ~300-byte module); throws where WebAssembly SIMD is unavailable. */
  static create(): WasmAdamw {
    const { memory, exports } = instantiate([adamwFunc()], 16 * CHUNK);
    return new WasmAdamw(exports['adamw'] as AdamwFn, memory);
  }

  /** Whether this kernel computes the oracle's result for these scalars (lerp's first form). */
  static supports(a: AdamwArgs): boolean {
    return adamwScalars(a).w1 < 0.5;
  }

  update(a: AdamwArgs): void {
    const s = adamwScalars(a);
    const { param, grad, expAvg, expAvgSq } = a;
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
