/** Shape ops: reshape (a view), transpose of the last two dims, concat and slice along an axis, row ranges (views). */
import { record } from '../autograd.js';
import { runKernel } from '../registry.js';
import { ShapeError, fmtShape } from '../errors.js';
import { Tensor, shapeSize, type Shape } from '../tensor.js';

function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new ShapeError(op, `axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Same data, new shape; one dimension may be -1. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const s = [...shape];
  const neg = s.indexOf(-1);
  if (neg >= 0) {
    const rest = s.reduce((p, d, i) => (i === neg ? p : p * d), 1);
    if (rest === 0 || x.size % rest !== 0) throw new ShapeError('reshape', `cannot reshape ${fmtShape(x.shape)} into ${fmtShape(shape)}`);
    s[neg] = x.size / rest;
  }
  if (shapeSize(s) !== x.size) throw new ShapeError('reshape', `cannot reshape ${fmtShape(x.shape)} (${x.size} elements) into ${fmtShape(shape)}`);
  const out = new Tensor(x.data, s);
  if (x.dtype !== 'float32') return out;
  return record(out, 'reshape', [x], (g) => [g]);
}

/** Swap the last two dimensions (copying). */
export function transpose(x: Tensor): Tensor {
  if (x.rank < 2) throw new ShapeError('transpose', `needs rank ≥ 2, got ${fmtShape(x.shape)}`);
  const [r, c] = x.shape.slice(-2) as [number, number];
  const batch = x.size / (r * c || 1);
  const swap = (src: Float32Array | Int32Array, dst: Float32Array | Int32Array, rows: number, cols: number) => {
    for (let b = 0; b < batch; b++) {
      const o = b * rows * cols;
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) dst[o + j * rows + i] = src[o + i * cols + j]!;
    }
  };
  const out = x.dtype === 'int32' ? new Int32Array(x.size) : new Float32Array(x.size);
  swap(x.data, out, r, c);
  const t = new Tensor(out, [...x.shape.slice(0, -2), c, r]);
  if (x.dtype !== 'float32') return t;
  return record(t, 'transpose', [x], (g) => {
    const gx = new Float32Array(g.length);
    swap(g, gx, c, r);
    return [gx];
  });
}

/** Concatenate float tensors along `axis`. */
export function concat(xs: readonly Tensor[], axis = -1): Tensor {
  if (xs.length === 0) throw new ShapeError('concat', 'needs at least one tensor');
  const rank = xs[0]!.rank;
  const ax = normAxis('concat', axis, rank);
  for (const t of xs) {
    if (t.rank !== rank || t.shape.some((d, i) => i !== ax && d !== xs[0]!.shape[i])) {
      throw new ShapeError('concat', `shapes ${xs.map((s) => fmtShape(s.shape)).join(', ')} differ outside axis ${ax}`);
    }
  }
  const outer = shapeSize(xs[0]!.shape.slice(0, ax));
  const inner = shapeSize(xs[0]!.shape.slice(ax + 1));
  const widths = xs.map((t) => t.shape[ax]! * inner);
  const total = widths.reduce((a, b) => a + b, 0);
  const out = new Float32Array(outer * total);
  let off = 0;
  xs.forEach((t, j) => {
    const d = t.f32('concat');
    const w = widths[j]!;
    for (let o = 0; o < outer; o++) out.set(d.subarray(o * w, (o + 1) * w), o * total + off);
    off += w;
  });
  const shape = [...xs[0]!.shape];
  shape[ax] = xs.reduce((a, t) => a + t.shape[ax]!, 0);
  return record(new Tensor(out, shape), 'concat', xs, (g) => {
    let o2 = 0;
    return xs.map((t, j) => {
      const w = widths[j]!;
      const start = o2;
      o2 += w;
      if (!t.requiresGrad) return null;
      const gx = new Float32Array(outer * w);
      for (let o = 0; o < outer; o++) gx.set(g.subarray(o * total + start, o * total + start + w), o * w);
      return gx;
    });
  });
}

/** x[..., start:end, ...] along `axis` (copying). */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const ax = normAxis('slice', axis, x.rank);
  const dim = x.shape[ax]!;
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= dim)) {
    throw new ShapeError('slice', `range [${start}, ${end}) is out of bounds for axis ${ax} of ${fmtShape(x.shape)}`);
  }
  const outer = shapeSize(x.shape.slice(0, ax));
  const inner = shapeSize(x.shape.slice(ax + 1));
  const w = (end - start) * inner;
  const full = dim * inner;
  const src = x.f32('slice');
  const out = new Float32Array(outer * w);
  for (let o = 0; o < outer; o++) out.set(src.subarray(o * full + start * inner, o * full + start * inner + w), o * w);
  const shape = [...x.shape];
  shape[ax] = end - start;
  return record(new Tensor(out, shape), 'slice', [x], (g) => {
    const gx = new Float32Array(x.size);
    for (let o = 0; o < outer; o++) gx.set(g.subarray(o * w, (o + 1) * w), o * full + start * inner);
    return [gx];
  });
}

/**
 * Rows [start, end) of x (along the first axis) as a view of x's buffer, like torch.narrow: no copy.
 * Its backward adds into those rows of x's gradient only, so splitting a tensor into row blocks
 * (an MoE's per-expert token groups) costs no full-size gradient per block.
 */
export function narrowRows(x: Tensor, start: number, end: number): Tensor {
  if (x.rank < 1) throw new ShapeError('narrowRows', `input must have rank ≥ 1, got ${fmtShape(x.shape)}`);
  const n = x.shape[0]!;
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= n)) {
    throw new ShapeError('narrowRows', `rows [${start}, ${end}) are out of bounds for ${fmtShape(x.shape)}`);
  }
  const row = shapeSize(x.shape.slice(1));
  const view = x.f32('narrowRows').subarray(start * row, end * row);
  return record(new Tensor(view, [end - start, ...x.shape.slice(1)]), 'narrowRows', [x], (g, into) => {
    const rows = into(0).subarray(start * row, end * row);
    runKernel('binary', { op: 'add', a: rows, b: g, out: rows });
    return [null];
  });
}
