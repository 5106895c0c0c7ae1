/**
 * cpu/swigluExperts (see SwigluExpertsArgs): one token through each of its SwiGLU experts, the
 * outputs added with their combine weights; every dot product and the sum over experts in f64.
 */
import type { SwigluExpertsArgs } from '../../registry.js';

export function swigluExpertsCpu({ x, gates, ups, downs, coef, sizes, dim: D, out }: SwigluExpertsArgs): void {
  /** [D] the combined output, in f64 until the end */
  const y = new Float64Array(D);
  for (let e = 0; e < sizes.length; e++) {
    const s = sizes[e]!, G = gates[e]!, U = ups[e]!, W = downs[e]!, c = coef[e]!;
    /** [s] silu(gate·x) ⊙ (up·x), rounded to f32 as the SwiGLU kernel stores it */
    const h = new Float32Array(s);
    for (let i = 0; i < s; i++) {
      let g = 0, u = 0;
      for (let d = 0; d < D; d++) { g += G[i * D + d]! * x[d]!; u += U[i * D + d]! * x[d]!; }
      const gf = Math.fround(g);
      h[i] = (gf / (1 + Math.exp(-gf))) * Math.fround(u);
    }
    for (let d = 0; d < D; d++) {
      let acc = 0;
      for (let i = 0; i < s; i++) acc += W[d * s + i]! * h[i]!;
      y[d]! += c * Math.fround(acc);
    }
  }
  for (let d = 0; d < D; d++) out[d] = y[d]!;
}
