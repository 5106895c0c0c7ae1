/** sum / mean over all elements or one axis. */
import { record } from '../autograd.js';
import { ShapeError } from '../errors.js';
import { Tensor, assertFloat, shapeSize } from '../tensor.js';

function reduceAxis(op: 'sum' | 'mean', x: Tensor, axis?: number, keepDim = false): Tensor {
  assertFloat(op, x);
  const xd = x.f32();
  if (axis === undefined) {
    let s = 0;
    for (let i = 0; i < xd.length; i++) s += xd[i]!;
    const scale = op === 'mean' ? 1 / (xd.length || 1) : 1;
    const out = new Tensor(new Float32Array([op === 'mean' ? s / (xd.length || 1) : s]), keepDim ? x.shape.map(() => 1) : []);
    return record(out, op, [x], (g) => [new Float32Array(xd.length).fill(g[0]! * scale)]);
  }
  const ax = axis < 0 ? axis + x.rank : axis;
  if (ax < 0 || ax >= x.rank) throw new ShapeError(op, `axis ${axis} is out of range for rank ${x.rank}`);
  const outer = shapeSize(x.shape.slice(0, ax));
  const dim = x.shape[ax]!;
  const inner = shapeSize(x.shape.slice(ax + 1));
  const out = new Float32Array(outer * inner);
  const scale = op === 'mean' ? 1 / (dim || 1) : 1;
  for (let o = 0; o < outer; o++) {
    for (let d = 0; d < dim; d++) {
      const base = (o * dim + d) * inner;
      for (let i = 0; i < inner; i++) out[o * inner + i]! += xd[base + i]!;
    }
  }
  if (scale !== 1) for (let i = 0; i < out.length; i++) out[i]! *= scale;
  const shape = keepDim ? x.shape.map((s, i) => (i === ax ? 1 : s)) : x.shape.filter((_, i) => i !== ax);
  return record(new Tensor(out, shape), op, [x], (g) => {
    const gx = new Float32Array(x.size);
    for (let o = 0; o < outer; o++) for (let d = 0; d < dim; d++) {
      const base = (o * dim + d) * inner;
      for (let i = 0; i < inner; i++) gx[base + i] = g[o * inner + i]! * scale;
    }
    return [gx];
  });
}

export const sum = (x: Tensor, axis?: number, keepDim = false): Tensor => reduceAxis('sum', x, axis, keepDim);
export const mean = (x: Tensor, axis?: number, keepDim = false): Tensor => reduceAxis('mean', x, axis, keepDim);
