/** Embedding gather: rows of weight [V, D] picked by int32 ids [...] → [..., D]; backward scatter-adds into the rows. */
import { record } from '../autograd.js';
import { IndexError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, assertFloat } from '../tensor.js';

export function embedding(weight: Tensor, ids: Tensor): Tensor {
  assertFloat('embedding', weight);
  if (weight.rank !== 2) throw new ShapeError('embedding', `weight must be [vocab, dim], got ${fmtShape(weight.shape)}`);
  const idx = ids.i32('embedding');
  const [V, D] = weight.shape as [number, number];
  const w = weight.f32();
  const out = new Float32Array(idx.length * D);
  for (let i = 0; i < idx.length; i++) {
    const id = idx[i]!;
    if (id < 0 || id >= V) throw new IndexError('embedding', `token id ${id} at position ${i} is out of range [0, ${V}) for weight ${fmtShape(weight.shape)}${weight.name ? ` ('${weight.name}')` : ''}`);
    out.set(w.subarray(id * D, id * D + D), i * D);
  }
  return record(new Tensor(out, [...ids.shape, D]), 'embedding', [weight], (g, into) => {
    // rows add straight into the table's gradient (kept across steps): no [V, D] temporary
    const gw = into(0);
    for (let i = 0; i < idx.length; i++) {
      const o = idx[i]! * D;
      for (let d = 0; d < D; d++) gw[o + d]! += g[i * D + d]!;
    }
    return [null];
  });
}
