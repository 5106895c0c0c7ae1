/**
 * Global gradient-norm clipping as torch.nn.utils.clip_grad_norm_: the L2 norm over every
 * gradient together (accumulated in f64), then every gradient scaled by min(1, max / (norm + 1e-6)).
 */
import type { Tensor } from '@llama-moe/tensor-core';

/**
 * Σ g² of one gradient into four f64 partial sums (one accumulator is bound by the add latency,
 * ~2 ns per element here). A function of its own so V8 optimises it after a few calls; as a loop
 * inside globalGradNorm (called once per step) it ran unoptimised for the first steps.
 */
function sumSquares(g: Float32Array, acc: Float64Array): void {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const n4 = g.length & ~3;
  let i = 0;
  for (; i < n4; i += 4) {
    const a = g[i]!, b = g[i + 1]!, c = g[i + 2]!, d = g[i + 3]!;
    s0 += a * a;
    s1 += b * b;
    s2 += c * c;
    s3 += d * d;
  }
  for (; i < g.length; i++) s0 += g[i]! * g[i]!;
  acc[0]! += s0;
  acc[1]! += s1;
  acc[2]! += s2;
  acc[3]! += s3;
}

/** L2 norm of all gradients of `params` (those without a gradient contribute nothing). */
export function globalGradNorm(params: readonly Tensor[]): number {
  /** [4] partial sums */
  const acc = new Float64Array(4);
  for (const p of params) {
    const g = p.grad?.data as Float32Array | undefined;
    if (g) sumSquares(g, acc);
  }
  return Math.sqrt(acc[0]! + acc[1]! + (acc[2]! + acc[3]!));
}

/**
 * The factor clip_grad_norm_ multiplies every gradient by for a measured `norm`: min(1, max /
 * (norm + 1e-6)) rounded to f32 (torch's clip_coef_clamped is an f32 tensor); 1 when clipping is
 * off (maxNorm ≤ 0) or the norm is not finite. Pass it to `AdamW.step({ gradScale })` to clip
 * inside the update instead of in a separate pass.
 */
export function clipCoefficient(norm: number, maxNorm: number): number {
  if (!(maxNorm > 0) || !Number.isFinite(norm)) return 1;
  const coef = maxNorm / (norm + 1e-6);
  return coef < 1 ? Math.fround(coef) : 1;
}

/** Clip in place; returns the norm measured before clipping (what trainers log). */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): number {
  const norm = globalGradNorm(params);
  const c = clipCoefficient(norm, maxNorm);
  if (c < 1) {
    for (const p of params) {
      const g = p.grad?.data as Float32Array | undefined;
      if (!g) continue;
      for (let i = 0; i < g.length; i++) g[i] = g[i]! * c;
    }
  }
  return norm;
}
