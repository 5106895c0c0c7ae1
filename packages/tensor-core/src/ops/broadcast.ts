/** Numpy broadcasting for binary ops, and the reduction that maps a gradient back to an input's shape. */
import { ShapeError, fmtShape } from '../errors.js';
import { shapeSize, type Shape } from '../tensor.js';

export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new ShapeError(op, `shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast together`);
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides of `shape` aligned to `outShape` (0 where broadcast). */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const n = outShape.length;
  const strides = new Array<number>(n).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const oi = n - shape.length + i;
    strides[oi] = shape[i] === 1 ? 0 : s;
    s *= shape[i]!;
  }
  return strides;
}

/** Expand `src` (shape `shape`) to `outShape` as a fresh buffer. */
export function expandTo(src: Float32Array, shape: Shape, outShape: Shape): Float32Array {
  const size = shapeSize(outShape);
  if (src.length === size) return src;
  const out = new Float32Array(size);
  const st = broadcastStrides(shape, outShape);
  const n = outShape.length;
  const idx = new Array<number>(n).fill(0);
  let off = 0;
  for (let i = 0; i < size; i++) {
    out[i] = src[off]!;
    for (let d = n - 1; d >= 0; d--) {
      idx[d]!++;
      off += st[d]!;
      if (idx[d]! < outShape[d]!) break;
      off -= st[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

/** Sum `grad` (shape `outShape`) down to `shape` (the inverse of broadcasting). */
export function reduceTo(grad: Float32Array, outShape: Shape, shape: Shape): Float32Array {
  const size = shapeSize(shape);
  if (size === grad.length) return grad;
  const out = new Float32Array(size);
  const st = broadcastStrides(shape, outShape);
  const n = outShape.length;
  const idx = new Array<number>(n).fill(0);
  let off = 0;
  for (let i = 0; i < grad.length; i++) {
    out[off]! += grad[i]!;
    for (let d = n - 1; d >= 0; d--) {
      idx[d]!++;
      off += st[d]!;
      if (idx[d]! < outShape[d]!) break;
      off -= st[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}
