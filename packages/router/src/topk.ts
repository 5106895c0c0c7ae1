/**
 * Row-wise top-k selection shared by every gate.
 *
 * Order: descending by value, ties broken by the lower expert index, so each row yields exactly
 * `m` distinct indices (matching what `torch.topk` returns on CPU for distinct values, and
 * deterministic where torch leaves ties unspecified). Cost O(E·m) per row with no allocation:
 * an insertion into a sorted window of m entries, which beats a sort for the small m of MoE gates.
 */
import { RouterError, type FloatArray } from './errors.js';

/**
 * Writes the top-`m` entries of each row of `values [T, E]` into `outIdx [T, m]` and
 * `outVal [T, m]`. NaN throws (torch would rank NaN first, silently routing every token to it).
 */
export function topkRows(
  op: string,
  /** [T, E] */ values: FloatArray,
  T: number,
  E: number,
  m: number,
  /** [T, m] */ outIdx: Int32Array,
  /** [T, m] */ outVal: FloatArray,
): void {
  if (m < 1 || m > E) throw new RouterError('argument', op, `top-k size ${m} must be in [1, ${E}] (the number of experts)`);
  for (let t = 0; t < T; t++) {
    const base = t * E;
    const ob = t * m;
    let filled = 0;
    for (let e = 0; e < E; e++) {
      const v = values[base + e]!;
      if (v !== v) throw new RouterError('value', op, `logits[${t}, ${e}] is NaN; check the gate's input`);
      // Strictly greater than the current m-th: an equal value with a higher index loses the tie.
      if (filled === m && !(v > outVal[ob + m - 1]!)) continue;
      let p = filled === m ? m - 1 : filled;
      // Shift down entries strictly smaller than v; equal entries keep their (lower-index) place.
      while (p > 0 && outVal[ob + p - 1]! < v) {
        outVal[ob + p] = outVal[ob + p - 1]!;
        outIdx[ob + p] = outIdx[ob + p - 1]!;
        p--;
      }
      outVal[ob + p] = v;
      outIdx[ob + p] = e;
      if (filled < m) filled++;
    }
  }
}
