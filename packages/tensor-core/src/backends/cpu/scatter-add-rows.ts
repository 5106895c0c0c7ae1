/** cpu/scatterAddRows (see ScatterAddRowsArgs): each factor alpha·coef[s] in f64. */
import type { ScatterAddRowsArgs, ScatterAddRowsBackwardArgs } from '../../registry.js';

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

/** cpu/scatterAddRowsBackward (see ScatterAddRowsBackwardArgs): factors and dot products in f64. */
export function scatterAddRowsBackwardCpu({ g, src, index, coef, alpha, dsrc, dcoef, cols }: ScatterAddRowsBackwardArgs): void {
  let s = 0;
  src.forEach((block, b) => {
    const n = block.length / cols;
    const dy = dsrc[b] ?? null;
    for (let r = 0; r < n; r++, s++) {
      const o = index[s]! * cols, yo = r * cols;
      if (dy) {
        const a = alpha * (coef ? coef[s]! : 1);
        for (let d = 0; d < cols; d++) dy[yo + d] = a * g[o + d]!;
      }
      if (dcoef) {
        let dot = 0;
        for (let d = 0; d < cols; d++) dot += g[o + d]! * block[yo + d]!;
        dcoef[s] = alpha * dot;
      }
    }
  });
}
