/**
 * Masked, scaled row softmax of attention scores and its gradient (MaskedSoftmaxArgs,
 * MaskedSoftmaxBackwardArgs), the oracle: Math.exp in f64, every stored value rounded to f32 in
 * the order the contract states.
 */
import type { MaskedSoftmaxArgs, MaskedSoftmaxBackwardArgs } from '../../registry.js';

/** Columns row r sees: valid[r] clamped to [0, cols], or cols. */
export function validColumns(valid: Int32Array | null, r: number, cols: number): number {
  return valid ? Math.max(0, Math.min(cols, valid[r]!)) : cols;
}

export function maskedSoftmaxCpu({ x, out, rows, cols, scale, valid }: MaskedSoftmaxArgs): void {
  const s = Math.fround(scale);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const n = validColumns(valid, r, cols);
    let mx = -Infinity;
    let nan = false;
    for (let j = 0; j < n; j++) {
      const t = Math.fround(x[o + j]! * s);
      out[o + j] = t;
      if (t > mx) mx = t;
      else if (t !== t) nan = true;
    }
    if (nan) mx = NaN;
    let sum = 0;
    for (let j = 0; j < n; j++) {
      const e = Math.fround(Math.exp(out[o + j]! - mx));
      out[o + j] = e;
      sum += e;
    }
    const inv = Math.fround(1 / sum);
    for (let j = 0; j < n; j++) out[o + j] = Math.fround(out[o + j]! * inv);
    out.fill(0, o + n, o + cols);
  }
}

export function maskedSoftmaxBackwardCpu({ p, g, out, rows, cols, scale, valid }: MaskedSoftmaxBackwardArgs): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    const n = validColumns(valid, r, cols);
    let dot = 0;
    for (let j = 0; j < n; j++) dot += g[o + j]! * p[o + j]!;
    for (let j = 0; j < n; j++) out[o + j] = p[o + j]! * (g[o + j]! - dot) * scale;
    out.fill(0, o + n, o + cols);
  }
}
