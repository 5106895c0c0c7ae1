/** Row-wise shifted exponentials (see ExpRowsArgs), the oracle: Math.exp in f64, stored as f32. */
import type { ExpRowsArgs } from '../../registry.js';

export function expRowsCpu(a: ExpRowsArgs): void {
  const { x, out, rows, cols, max, sum } = a;
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let mx = -Infinity;
    for (let c = 0; c < cols; c++) {
      const v = x[o + c]!;
      // NaN propagates to the maximum (as the SIMD max does), so a NaN row gives NaN sums.
      if (v > mx || v !== v) mx = v;
    }
    max[r] = mx;
    let s = 0;
    if (out) {
      for (let c = 0; c < cols; c++) {
        const e = Math.exp(x[o + c]! - mx);
        out[o + c] = e;
        s += e;
      }
    } else {
      for (let c = 0; c < cols; c++) s += Math.exp(x[o + c]! - mx);
    }
    sum[r] = s;
  }
}
