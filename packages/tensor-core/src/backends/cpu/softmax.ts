/** cpu/softmax: row-wise, max-subtracted, accumulated in f64. */
import type { SoftmaxArgs } from '../../registry.js';

export function softmaxCpu({ x, out, rows, cols }: SoftmaxArgs): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let mx = -Infinity;
    for (let c = 0; c < cols; c++) if (x[o + c]! > mx) mx = x[o + c]!;
    if (mx === -Infinity) {
      // A fully masked row: define the result as uniform zeros rather than NaN.
      out.fill(0, o, o + cols);
      continue;
    }
    let s = 0;
    for (let c = 0; c < cols; c++) { const e = Math.exp(x[o + c]! - mx); out[o + c] = e; s += e; }
    const inv = 1 / s;
    for (let c = 0; c < cols; c++) out[o + c]! *= inv;
  }
}
