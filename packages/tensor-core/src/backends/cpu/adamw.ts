/**
 * AdamW update, the oracle: torch.optim.AdamW's single-tensor op order with every op rounded to
 * f32 (Math.fround after each f64 operation: for +, −, ×, ÷ and √ of f32 operands that is
 * exactly the f32 IEEE result, so the SIMD backend can match it bit for bit).
 */
import type { AdamwArgs, AdamwStateArgs } from '../../registry.js';

/** The f32 scalars one update uses, derived once per tensor the way torch converts Python floats. */
export interface AdamwScalars {
  gradScale: number;
  decay: number;
  /** lerp weight 1 − β1 */
  w1: number;
  /** 1 − w1, used by lerp's second form (w1 ≥ 0.5) */
  w1c: number;
  beta2: number;
  /** addcmul value 1 − β2 */
  w2: number;
  /** addcdiv value −stepSize */
  negStep: number;
  bc2Sqrt: number;
  eps: number;
}

export function adamwScalars(a: AdamwArgs): AdamwScalars {
  const f = Math.fround;
  const w1 = f(1 - a.beta1);
  return {
    gradScale: f(a.gradScale),
    decay: f(a.decay),
    w1,
    w1c: f(1 - w1),
    beta2: f(a.beta2),
    w2: f(1 - a.beta2),
    negStep: f(-a.stepSize),
    bc2Sqrt: f(a.bc2Sqrt),
    eps: f(a.eps),
  };
}

export function adamwCpu(a: AdamwArgs): void {
  const f = Math.fround;
  const { gradScale: gs, decay, w1, w1c, beta2: b2, w2, negStep, bc2Sqrt, eps } = adamwScalars(a);
  const { param: x, grad: g, expAvg: m, expAvgSq: v } = a;
  const n = x.length;
  // torch's lerp: self + w·(end − self) for w < 0.5, else end − (end − self)·(1 − w).
  const lerpLow = w1 < 0.5;
  for (let i = 0; i < n; i++) {
    const gi = f(g[i]! * gs);
    const mo = m[i]!;
    const d = f(gi - mo);
    const mi = lerpLow ? f(mo + f(d * w1)) : f(gi - f(d * w1c));
    m[i] = mi;
    const vi = f(f(v[i]! * b2) + f(f(w2 * gi) * gi));
    v[i] = vi;
    const denom = f(f(f(Math.sqrt(vi)) / bc2Sqrt) + eps);
    x[i] = f(f(x[i]! * decay) + f(f(negStep * mi) / denom));
  }
}

/** cpu/adamwState: plain zeroed arrays. */
export function adamwStateCpu({ sizes, out }: AdamwStateArgs): void {
  for (const n of sizes) out.push({ expAvg: new Float32Array(n), expAvgSq: new Float32Array(n) });
}
