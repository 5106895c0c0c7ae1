/** cpu/scatterAddRows (see ScatterAddRowsArgs): each factor alpha·coef[s] in f64. */
import type { ScatterAddRowsArgs } from '../../registry.js';

export function scatterAddRowsCpu({ src, index, coef, alpha, out, cols }: ScatterAddRowsArgs): void {
  let s = 0;
  for (const block of src) {
    const n = block.length / cols;
    for (let r = 0; r < n; r++, s++) {
      const a = alpha * (coef ? coef[s]! : 1);
      const o = index[s]! * cols, yo = r * cols;
      for (let d = 0; d < cols; d++) out[o + d]! += a * block[yo + d]!;
    }
  }
}
