/**
 * exp(t) on f32x4 lanes for the SIMD modules: Cephes' expf. n = round(t·log2 e),
 * r = t − n·ln 2 (ln 2 split in two constants so n·C1 is exact), e^r by its degree-7 minimax
 * polynomial on |r| ≤ ln2/2, times 2ⁿ built in the exponent bits. Relative error below
 * 1e-6 (measured 6e-7 over 16M values against Math.exp). The caller clamps t to
 * [EXP_MIN, EXP_MAX] first, where 2ⁿ stays a normal float.
 */
import { Code } from './wasm-emitter.js';

/** Below this t, 2ⁿ would be subnormal. */
export const EXP_MIN = -87.33654;
/** Above this t, 2ⁿ would overflow (e^88 ≈ 1.65e38 < f32 max). */
export const EXP_MAX = 88;
const LOG2E = 1.44269504088896341;
const C1 = 0.693359375;
const C2 = -2.12194440e-4;
const POLY = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];

/** v128 locals the exponential uses: 4 temporaries, 5 constants, the polynomial, and the clamp bounds. */
export const EXP_LOCALS = 4 + 5 + POLY.length + 2;

/**
 * Emits the exponential with its locals starting at `base` (EXP_LOCALS v128 locals):
 * `init()` once before the loop splats the constants (V8 does not hoist splats out of loops),
 * `exp(src, dst)` computes dst = e^src for the v128 local `src` (clamped by the caller).
 */
export function simdExp(c: Code, base: number): { init(): void; exp(src: number, dst: number): void; min: number; max: number } {
  const [FX, R, Y, T] = [base, base + 1, base + 2, base + 3];
  const [sLOG2E, sC1, sC2, sONE, s127] = [base + 4, base + 5, base + 6, base + 7, base + 8];
  const sPOLY = POLY.map((_, i) => base + 9 + i);
  const sMIN = base + 9 + POLY.length, sMAX = sMIN + 1;
  return {
    min: sMIN,
    max: sMAX,
    init() {
      for (const [v, l] of [[EXP_MIN, sMIN], [EXP_MAX, sMAX], [LOG2E, sLOG2E], [C1, sC1], [C2, sC2], [1, sONE], ...POLY.map((p, i) => [p, sPOLY[i]!])] as [number, number][]) c.f32Const(v).f32x4Splat().set(l);
      c.i32(127).i32x4Splat().set(s127);
    },
    exp(src: number, dst: number) {
      c.get(src).set(T);
      // n = round(t·log2 e); r = (t − n·C1) − n·C2
      c.get(T).get(sLOG2E).f32x4Mul().f32x4Nearest().set(FX);
      c.get(T).get(FX).get(sC1).f32x4Mul().f32x4Sub();
      c.get(FX).get(sC2).f32x4Mul().f32x4Sub().set(R);
      // y = poly(r)·r² + r + 1 (Horner)
      c.get(sPOLY[0]!).set(Y);
      for (let i = 1; i < POLY.length; i++) c.get(Y).get(R).f32x4Mul().get(sPOLY[i]!).f32x4Add().set(Y);
      c.get(Y).get(R).get(R).f32x4Mul().f32x4Mul().get(R).f32x4Add().get(sONE).f32x4Add().set(Y);
      // × 2ⁿ: (n + 127) << 23 as f32 bits
      c.get(Y).get(FX).i32x4TruncSatF32x4S().get(s127).i32x4Add().i32(23).i32x4Shl().f32x4Mul().set(dst);
    },
  };
}

/**
 * One vector of a row's shifted-exponential pass: y = e^(x − max) for the f32x4 at the address in
 * local `P` (lanes below EXP_MIN, −∞ included, give exactly 0), stored back in place and added to
 * the f64x2 sums `SA` (lanes 0, 1) and `SB` (lanes 2, 3). `sMX` holds the splatted maximum;
 * `T`, `MASK`, `Y` are v128 scratch locals.
 */
export function emitExpAndSum(c: Code, e: ReturnType<typeof simdExp>, l: { P: number; sMX: number; T: number; MASK: number; Y: number; SA: number; SB: number }): void {
  const { P, sMX, T, MASK, Y, SA, SB } = l;
  c.get(P).v128Load(0).get(sMX).f32x4Sub().set(T);
  c.get(T).get(e.min).f32x4Lt().set(MASK);
  c.get(T).get(e.min).f32x4Pmax().set(T);
  e.exp(T, Y);
  c.get(Y).get(MASK).v128AndNot().set(Y);
  c.get(P).get(Y).v128Store(0);
  c.get(SA).get(Y).f64x2PromoteLowF32x4().f64x2Add().set(SA);
  c.get(SB).get(Y).get(Y).shuffleF32(2, 3, 0, 1).f64x2PromoteLowF32x4().f64x2Add().set(SB);
}
