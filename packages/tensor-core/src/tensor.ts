/**
 * Tensor: a row-major buffer with shape metadata. Compute dtype is f32 (`float32`); index tensors
 * are `int32`. A tensor that takes part in autograd carries a `node` (the op that made it) and,
 * after `backward()`, a `grad` when it is a leaf with `requiresGrad`.
 */
import { DTypeError, ShapeError, TensorError, fmtShape } from './errors.js';
import type { DType } from './dtype.js';
import { backward as runBackward, type BackwardOptions, type GradNode, type GradSlot } from './autograd.js';

export type Shape = readonly number[];
export type TensorData = Float32Array | Int32Array;

export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function checkShape(op: string, shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(op, `invalid shape ${fmtShape(shape)}: dimensions must be non-negative integers`);
  }
}

let nextId = 1;

export class Tensor {
  readonly id = nextId++;
  data: TensorData;
  readonly shape: Shape;
  readonly dtype: DType;
  /** Leaf parameters set this; ops propagate it to their outputs (unless in a no-grad scope). */
  requiresGrad: boolean;
  /** The gradient buffer; kept (cleared, not dropped) by `clearGrad` so the next backward reuses it. */
  private gradBuf: Tensor | null = null;
  /** True after clearGrad(): `grad` reads null until a backward writes into the kept buffer. */
  private gradCleared = false;
  /** The op that produced this tensor; null for leaves and after backward() released the graph. */
  node: GradNode | null = null;
  /** Optional name (parameter name) used in error messages. */
  name?: string;

  constructor(data: TensorData, shape: Shape, opts: { requiresGrad?: boolean; name?: string } = {}) {
    checkShape('Tensor', shape);
    const n = shapeSize(shape);
    if (data.length !== n) {
      throw new ShapeError('Tensor', `data has ${data.length} elements but shape ${fmtShape(shape)} needs ${n}`);
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
    this.dtype = data instanceof Int32Array ? 'int32' : 'float32';
    if (!(data instanceof Int32Array) && !(data instanceof Float32Array)) {
      throw new DTypeError('Tensor', 'data must be a Float32Array or an Int32Array');
    }
    this.requiresGrad = !!opts.requiresGrad;
    if (this.requiresGrad && this.dtype !== 'float32') throw new DTypeError('Tensor', 'only float32 tensors can require gradients');
    if (opts.name !== undefined) this.name = opts.name;
  }

  /** Filled by backward() for leaves with requiresGrad (accumulates across backward calls). */
  get grad(): Tensor | null {
    return this.gradCleared ? null : this.gradBuf;
  }
  set grad(g: Tensor | null) {
    this.gradBuf = g;
    this.gradCleared = false;
  }

  /**
   * Zero the gradient the way PyTorch's `zero_grad(set_to_none=True)` does (`grad` reads null
   * afterwards, and an optimizer skips a parameter that no backward reached), but keep its buffer:
   * the next backward writes that buffer in place (GEMMs straight into it) instead of allocating,
   * page-faulting and garbage-collecting a fresh one every step. So a gradient read before
   * `clearGrad` shares that buffer: copy it to keep its values past the next backward. Assigning
   * `grad = null` drops the buffer instead.
   */
  clearGrad(): void {
    if (this.gradBuf) this.gradCleared = true;
  }

  /** @internal autograd: the gradient buffer of this leaf, whether it holds a gradient now (`empty` false) or was cleared / never made (`empty` true, contents undefined). */
  gradSlot(): GradSlot {
    const kept = this.gradBuf;
    if (kept && !this.gradCleared) return { data: kept.data as Float32Array, empty: false };
    if (kept && kept.size === this.size) {
      this.gradCleared = false;
      return { data: kept.data as Float32Array, empty: true };
    }
    this.grad = new Tensor(new Float32Array(this.size), this.shape);
    return { data: this.gradBuf!.data as Float32Array, empty: true };
  }

  get size(): number {
    return this.data.length;
  }
  get rank(): number {
    return this.shape.length;
  }

  /** Float32 data, or a typed error naming `op` when this is an index tensor. */
  f32(op = 'f32'): Float32Array {
    if (!(this.data instanceof Float32Array)) throw new DTypeError(op, `expected a float32 tensor, got int32 ${fmtShape(this.shape)}`);
    return this.data;
  }
  i32(op = 'i32'): Int32Array {
    if (!(this.data instanceof Int32Array)) throw new DTypeError(op, `expected an int32 index tensor, got float32 ${fmtShape(this.shape)}`);
    return this.data;
  }

  item(): number {
    if (this.size !== 1) throw new ShapeError('item', `tensor ${fmtShape(this.shape)} has ${this.size} elements, not 1`);
    return this.data[0]!;
  }

  toArray(): number[] {
    return Array.from(this.data);
  }

  /** A detached copy (new buffer, no graph). */
  clone(): Tensor {
    return new Tensor(this.data.slice() as TensorData, this.shape);
  }

  /** Same buffer, no graph, no grad. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape);
  }

  /**
   * Reverse-mode autograd from this tensor (a scalar unless `grad` is given). With
   * `releaseActivations`, the graph's intermediate tensors' storage goes back to the buffer pool
   * for the next forward (see BackwardOptions): only when nothing reads them afterwards.
   */
  backward(grad?: Tensor | Float32Array | null, opts?: BackwardOptions): void {
    runBackward(this, grad instanceof Tensor ? grad.f32('backward') : (grad ?? undefined), opts);
  }

  toString(): string {
    return `Tensor(${this.dtype} ${fmtShape(this.shape)}${this.name ? ` '${this.name}'` : ''})`;
  }
}

// ---------------------------------------------------------------------------------------------
// Factories

export function tensor(data: ArrayLike<number> | TensorData, shape?: Shape, opts: { requiresGrad?: boolean; name?: string; dtype?: DType } = {}): Tensor {
  const s = shape ?? [data.length];
  let buf: TensorData;
  if (data instanceof Float32Array || data instanceof Int32Array) {
    buf = opts.dtype && opts.dtype !== (data instanceof Int32Array ? 'int32' : 'float32') ? (opts.dtype === 'int32' ? Int32Array.from(data) : Float32Array.from(data)) : data;
  } else {
    if (opts.dtype === 'int32') {
      for (let i = 0; i < data.length; i++) {
        if (!Number.isInteger(data[i])) throw new DTypeError('tensor', `int32 tensor value ${data[i]} at ${i} is not an integer`);
      }
    }
    buf = opts.dtype === 'int32' ? Int32Array.from(data) : Float32Array.from(data);
  }
  return new Tensor(buf, s, opts);
}

export function zeros(shape: Shape, opts: { requiresGrad?: boolean; name?: string } = {}): Tensor {
  checkShape('zeros', shape);
  return new Tensor(new Float32Array(shapeSize(shape)), shape, opts);
}

export function full(shape: Shape, value: number, opts: { requiresGrad?: boolean; name?: string } = {}): Tensor {
  checkShape('full', shape);
  return new Tensor(new Float32Array(shapeSize(shape)).fill(value), shape, opts);
}

export function ones(shape: Shape, opts: { requiresGrad?: boolean; name?: string } = {}): Tensor {
  return full(shape, 1, opts);
}

export function indices(data: ArrayLike<number> | Int32Array, shape?: Shape): Tensor {
  return tensor(data instanceof Int32Array ? data : Int32Array.from(data), shape, { dtype: 'int32' });
}

export function assertFloat(op: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.dtype !== 'float32') throw new DTypeError(op, `expected float32, got int32 ${fmtShape(t.shape)}`);
}

export function assertSameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(op, `shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} must match`);
  }
}

export function assertRank(op: string, t: Tensor, rank: number | readonly number[], what = 'input'): void {
  const ok = typeof rank === 'number' ? t.rank === rank : rank.includes(t.rank);
  if (!ok) throw new ShapeError(op, `${what} must have rank ${typeof rank === 'number' ? rank : rank.join(' or ')}, got ${fmtShape(t.shape)}`);
}

export { TensorError };
