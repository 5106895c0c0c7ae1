/**
 * Global gradient-norm clipping as torch.nn.utils.clip_grad_norm_: the L2 norm over every
 * gradient together (accumulated in f64), then every gradient scaled by min(1, max / (norm + 1e-6)).
 */
import { sumOfSquares, type Tensor } from '@llama-moe/tensor-core';

/** L2 norm of all gradients of `params` (those without a gradient contribute nothing). */
export function globalGradNorm(params: readonly Tensor[]): number {
  // f64 sum of squares over every gradient (SIMD on the wasm backend)
  const grads = function* () {
    for (const p of params) {
      const g = p.grad?.data as Float32Array | undefined;
      if (g) yield g;
    }
  };
  return Math.sqrt(sumOfSquares(grads()));
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
