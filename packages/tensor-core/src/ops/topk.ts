/**
 * top-k over the last axis: values (differentiable; the gradient flows back to the chosen
 * positions) and int32 indices, sorted descending, ties broken by the lower index (as
 * torch.topk on CPU does for equal values in practice, and deterministic everywhere).
 */
import { record } from '../autograd.js';
import { ShapeError, fmtShape } from '../errors.js';
import { Tensor, assertFloat } from '../tensor.js';

export function topk(x: Tensor, k: number): { values: Tensor; indices: Tensor } {
  assertFloat('topk', x);
  const cols = x.shape[x.rank - 1] ?? 0;
  if (!Number.isInteger(k) || k < 1 || k > cols) throw new ShapeError('topk', `k = ${k} must be an integer in [1, ${cols}] for input ${fmtShape(x.shape)}`);
  const rows = cols ? x.size / cols : 0;
  const xd = x.f32();
  const vals = new Float32Array(rows * k);
  const idx = new Int32Array(rows * k);
  const order = new Int32Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    if (k * 4 < cols) {
      // Partial selection: keep a sorted list of the best k (k small against E, the router case).
      let n = 0;
      for (let c = 0; c < cols; c++) {
        const v = xd[o + c]!;
        if (n === k && !(v > xd[o + order[k - 1]!]!)) continue;
        let p = n < k ? n++ : k - 1;
        while (p > 0 && (v > xd[o + order[p - 1]!]!)) { order[p] = order[p - 1]!; p--; }
        order[p] = c;
      }
    } else {
      for (let c = 0; c < cols; c++) order[c] = c;
      const sub = Array.from(order);
      sub.sort((a, b) => xd[o + b]! - xd[o + a]! || a - b);
      for (let c = 0; c < cols; c++) order[c] = sub[c]!;
    }
    for (let j = 0; j < k; j++) { idx[r * k + j] = order[j]!; vals[r * k + j] = xd[o + order[j]!]!; }
  }
  const shape = [...x.shape.slice(0, -1), k];
  const values = record(new Tensor(vals, shape), 'topk', [x], (g) => {
    const gx = new Float32Array(x.size);
    for (let r = 0; r < rows; r++) for (let j = 0; j < k; j++) gx[r * cols + idx[r * k + j]!]! += g[r * k + j]!;
    return [gx];
  });
  return { values, indices: new Tensor(idx, shape) };
}
