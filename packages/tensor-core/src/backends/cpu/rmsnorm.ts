/** cpu/rmsnorm: out = x · rsqrt(mean(x²) + eps) · weight, the mean in f64 (as transformers computes it in f32 after upcast). */
import type { RmsNormArgs, RmsNormBackwardArgs } from '../../registry.js';

export function rmsnormCpu({ x, weight, out, rows, cols, eps, invRms }: RmsNormArgs): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let ss = 0;
    for (let c = 0; c < cols; c++) { const v = x[o + c]!; ss += v * v; }
    // Math.fround: transformers computes variance and rsqrt in f32; keep the same rounding point.
    const inv = Math.fround(1 / Math.sqrt(Math.fround(ss / cols) + eps));
    if (invRms) invRms[r] = inv;
    for (let c = 0; c < cols; c++) out[o + c] = weight[c]! * Math.fround(x[o + c]! * inv);
  }
}

/** cpu/rmsnormBackward (see RmsNormBackwardArgs): the row dot product in f64. */
export function rmsnormBackwardCpu({ x, weight: w, invRms, g, rows, cols, gx, gw }: RmsNormBackwardArgs): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const iv = invRms[r]!;
    let dot = 0;
    for (let c = 0; c < cols; c++) dot += g[o + c]! * w[c]! * x[o + c]! * iv;
    const meanDot = dot / cols;
    if (gw) for (let c = 0; c < cols; c++) gw[c]! += g[o + c]! * (x[o + c]! * iv);
    if (gx) for (let c = 0; c < cols; c++) gx[o + c] = iv * (g[o + c]! * w[c]! - x[o + c]! * iv * meanDot);
  }
}
