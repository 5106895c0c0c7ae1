/** cpu/rmsnorm: out = x · rsqrt(mean(x²) + eps) · weight, the mean in f64 (as transformers computes it in f32 after upcast). */
import type { RmsNormArgs } from '../../registry.js';

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
