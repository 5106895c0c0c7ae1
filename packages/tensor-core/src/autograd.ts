/**
 * Reverse-mode autograd over coarse ops. Each op that sees an input with `requiresGrad` records a
 * GradNode: its inputs and a hand-written backward that maps the output gradient to one gradient
 * per input. `backward()` walks the graph once in reverse topological order, accumulates into
 * leaf `.grad`, and then releases every node so nothing is retained between training steps.
 */
import { ShapeError, TensorError, fmtShape } from './errors.js';
import type { Tensor } from './tensor.js';
import { runKernel } from './registry.js';

export interface GradNode {
  /** Op name, for error messages. */
  op: string;
  inputs: readonly Tensor[];
  /**
   * Given d(loss)/d(output), return d(loss)/d(input_i) for each input (null where an input needs
   * no gradient). Returned arrays are taken over by autograd (a buffer returned twice is copied).
   * A backward that adds into a few rows of a large input (indexSelect over one expert's tokens)
   * may instead call `into(i)`, the gradient accumulated so far for input i (zeros the first time),
   * add to it in place and return null for that input: no full-size array and no full-size add
   * per call.
   *
   * `slot(i)` is the same buffer without the zeroing: `empty` true means it holds no gradient yet
   * and the caller must write every element (a GEMM with accumulate off), false that it must add.
   * For a leaf (a parameter) both hand out the leaf's own `.grad` buffer, kept across
   * `clearGrad`, so weight gradients are written in place with no temporary and no extra add.
   */
  backward: (gradOut: Float32Array, into: (input: number) => Float32Array, slot: (input: number) => GradSlot) => (Float32Array | null)[];
}

/** A gradient buffer handed to a backward (see GradNode.backward). */
export interface GradSlot {
  data: Float32Array;
  /** Holds no gradient yet: overwrite every element rather than add. */
  empty: boolean;
}

let gradEnabled = true;

/** Whether ops currently record the graph. */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Run `fn` without recording a graph (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const saved = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = saved;
  }
}

/** Whether an op with these inputs should record a node. */
export function needsGrad(...inputs: (Tensor | null | undefined)[]): boolean {
  if (!gradEnabled) return false;
  for (const t of inputs) if (t && t.requiresGrad) return true;
  return false;
}

/**
 * Attach a node to `out` when any input requires grad. Ops call this after computing the forward.
 * The backward closure may capture forward intermediates; they are freed with the node.
 */
export function record(out: Tensor, op: string, inputs: readonly Tensor[], backward: GradNode['backward']): Tensor {
  if (!needsGrad(...inputs)) return out;
  out.requiresGrad = true;
  out.node = { op, inputs, backward };
  return out;
}

/**
 * Gradient buffers no longer referenced after a backward step, by length, for the next ones.
 * Training allocates the same activation-shaped gradients every step (and every layer); reusing
 * them spares V8 an external-memory GC per ~64 MB allocated and the kernel a page fault per
 * fresh 4 KB, which together cost more than the elementwise work itself on small models.
 * Only whole-buffer Float32Arrays that a finished backward dropped come back here.
 */
interface Pooled { buf: ArrayBuffer; epoch: number }
const pool = new Map<number, Pooled[]>();
let pooledBytes = 0;
/** Ceiling on idle pooled memory outside releaseActivations; beyond it, dropped buffers are left to the GC. */
const POOL_MAX_BYTES = 256 * 1024 * 1024;
/** Arrays shorter than this are not worth pooling. */
const POOL_MIN_FLOATS = 1024;
/** Backward passes run with releaseActivations: entries pooled before the previous one and never taken again are dropped. */
let epoch = 0;

/**
 * Size classes, eight per octave (at most 12.5 % slack): an MoE layer's expert buffers change
 * length every step with the routing (133·128 floats, then 129·128, …), and exact-length keys let
 * those one-off lengths fill the pool while the next step's lengths missed it.
 * `up`: the smallest class ≥ n (what a request of n needs); otherwise the largest class ≤ n (what
 * a buffer of n floats can serve).
 */
export function sizeClass(n: number, up: boolean): number {
  if (n <= 8) return n;
  const step = 2 ** (Math.floor(Math.log2(n)) - 3);
  return (up ? Math.ceil(n / step) : Math.floor(n / step)) * step;
}

/**
 * A Float32Array of `n` elements from the pool (zeros when `zero`, otherwise arbitrary contents
 * the caller overwrites): for a gradient a backward returns (autograd owns it and recycles it once
 * no gradient refers to it), or for an op's private temporaries, which the op hands back with
 * `recycleGradBuffers` once nothing can read them. A pooled array may be a view of the first `n`
 * floats of a somewhat larger buffer (its size class).
 */
export function gradBuffer(n: number, zero = false): Float32Array {
  if (n < POOL_MIN_FLOATS) return new Float32Array(n);
  const cls = sizeClass(n, true);
  const buf = pool.get(cls)?.pop()?.buf;
  if (!buf) return new Float32Array(new ArrayBuffer(cls * 4), 0, n);
  pooledBytes -= buf.byteLength;
  const a = new Float32Array(buf, 0, n);
  if (zero) a.fill(0);
  return a;
}

function recycle(a: Float32Array, uncapped = false): void {
  const buf = a.buffer;
  // only arrays that own their buffer from its start: a whole buffer, or a pool view of its prefix
  if (!(a instanceof Float32Array) || a.length < POOL_MIN_FLOATS || a.byteOffset !== 0 || !(buf instanceof ArrayBuffer)) return;
  const floats = buf.byteLength / 4;
  if (floats !== a.length && floats !== sizeClass(a.length, true)) return;
  if (!uncapped && pooledBytes + buf.byteLength > POOL_MAX_BYTES) return;
  const cls = sizeClass(floats, false);
  let free = pool.get(cls);
  if (!free) pool.set(cls, (free = []));
  // the same buffer recycled twice would be handed out twice
  for (const e of free) if (e.buf === buf) return;
  free.push({ buf, epoch });
  pooledBytes += buf.byteLength;
}

/** Drop pooled buffers that sat unused since before the previous releasing backward. */
function evictStale(): void {
  for (const [cls, free] of pool) {
    const kept = free.filter((e) => e.epoch >= epoch - 1);
    for (const e of free) if (e.epoch < epoch - 1) pooledBytes -= e.buf.byteLength;
    if (kept.length) pool.set(cls, kept);
    else pool.delete(cls);
  }
}

/**
 * @internal Hand an op's private temporaries (from `gradBuffer`, or any array it made and does not
 * return or keep) to the pool. Only for arrays nothing else refers to.
 */
export function recycleGradBuffers(...arrays: Float32Array[]): void {
  for (const a of arrays) recycle(a);
}

/** @internal Bytes idle in the buffer pool (for tests of its bounds). */
export function pooledBufferBytes(): number {
  return pooledBytes;
}

/**
 * Drop every pooled buffer: gradients and temporaries (otherwise kept, up to 256 MiB, for the next
 * backward) and the activations a `releaseActivations` backward handed back (kept for the next step).
 */
export function releaseGradBuffers(): void {
  pool.clear();
  pooledBytes = 0;
}

export interface BackwardOptions {
  /**
   * Once the gradients are computed, hand the graph's intermediate tensors' storage to the buffer
   * pool, where the next forward's ops take their outputs from (the trainer's step: the same
   * activation shapes every step, so a step allocates almost nothing and leaves the GC and the
   * page-fault handler out of it). The caller promises not to read any intermediate tensor of this
   * graph afterwards (the root excepted: a model's logits or hidden states read after this
   * backward hold garbage). Leaves, tensors outside the graph and whatever shares their storage
   * are never released.
   */
  releaseActivations?: boolean;
}

export function backward(root: Tensor, seed?: Float32Array, opts: BackwardOptions = {}): void {
  if (!root.requiresGrad) {
    throw new TensorError('autograd', 'backward', `${root.toString()} does not require grad: no input of the computation had requiresGrad (or it ran under noGrad)`);
  }
  if (!seed && root.size !== 1) {
    throw new ShapeError('backward', `implicit gradient needs a scalar output, got ${fmtShape(root.shape)}; pass a gradient`);
  }
  if (seed && seed.length !== root.size) {
    throw new ShapeError('backward', `gradient has ${seed.length} elements, output ${fmtShape(root.shape)} has ${root.size}`);
  }

  // Topological order by iterative DFS (graphs of deep models overflow a recursive one).
  const order: Tensor[] = [];
  const seen = new Set<number>();
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root.id);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1] = i + 1;
      const c = inputs[i]!;
      if (c.requiresGrad && !seen.has(c.id)) {
        seen.add(c.id);
        stack.push([c, 0]);
      }
    } else {
      order.push(t);
      stack.pop();
    }
  }

  const release = opts.releaseActivations === true;
  /** intermediate tensors' storage, released at the end (release only) */
  const acts: Float32Array[] = [];
  /** storage that must survive: leaves', their gradients', and any input the graph does not differentiate */
  const keep = new Set<ArrayBufferLike>();
  if (release) {
    keep.add(root.data.buffer);
    for (const t of order) {
      if (!t.node) {
        keep.add(t.data.buffer);
        continue;
      }
      if (t !== root && t.data instanceof Float32Array) acts.push(t.data);
      for (const inp of t.node.inputs) if (!inp.requiresGrad) keep.add(inp.data.buffer);
    }
  }

  const grads = new Map<number, Float32Array>();
  grads.set(root.id, seed ? Float32Array.from(seed) : new Float32Array([1]));
  for (let idx = order.length - 1; idx >= 0; idx--) {
    const t = order[idx]!;
    const g = grads.get(t.id);
    grads.delete(t.id);
    if (!g) continue;
    const node = t.node;
    if (!node) {
      // Leaf: accumulate into .grad (PyTorch semantics: grads add up until zeroed).
      if (t.grad) {
        const acc = t.grad.data as Float32Array;
        runKernel('binary', { op: 'add', a: acc, b: g, out: acc });
        if (g !== seed) recycle(g);
      } else {
        // Lazily import-free construction: Tensor's constructor is reached through the leaf itself.
        const Ctor = t.constructor as new (d: Float32Array, s: readonly number[]) => Tensor;
        t.grad = new Ctor(g === seed ? g.slice() : g, t.shape);
      }
      continue;
    }
    const taken: ArrayBufferLike[] = [];
    const slot = (j: number): GradSlot => {
      const inp = node.inputs[j]!;
      if (!inp.requiresGrad) return { data: new Float32Array(inp.size), empty: true }; // nobody reads it
      if (!inp.node) return inp.gradSlot(); // a leaf: its own .grad buffer
      let acc = grads.get(inp.id);
      if (acc) return { data: acc, empty: false };
      acc = gradBuffer(inp.size);
      grads.set(inp.id, acc);
      taken.push(acc.buffer);
      return { data: acc, empty: true };
    };
    const into = (j: number): Float32Array => {
      const s = slot(j);
      // an empty slot's contents are undefined (a recycled or kept buffer): zero it for adding into
      if (s.empty) s.data.fill(0);
      return s.data;
    };
    const inGrads = node.backward(g, into, slot);
    const dead: Float32Array[] = [];
    // Buffers handed to an input's gradient by this node: a second gradient over the same buffer
    // (add returns [g, g]; views into one buffer) is copied, anything else is taken over as is.
    // Backwards return fresh arrays or `g` (owned here: its entry left the map above) and run once
    // (the node is released below), so ownership is safe without a copy per edge.
    for (let j = 0; j < node.inputs.length; j++) {
      const inp = node.inputs[j]!;
      const gi = inGrads[j];
      if (!gi || !inp.requiresGrad) continue;
      if (gi.length !== inp.size) {
        throw new TensorError('autograd', node.op, `backward produced ${gi.length} gradient values for input ${j} of shape ${fmtShape(inp.shape)}`);
      }
      const prev = grads.get(inp.id);
      if (prev) {
        runKernel('binary', { op: 'add', a: prev, b: gi, out: prev });
        dead.push(gi);
      } else if (taken.includes(gi.buffer)) {
        grads.set(inp.id, gi.slice());
      } else {
        taken.push(gi.buffer);
        grads.set(inp.id, gi);
      }
    }
    // What this node consumed and nobody holds any more goes back to the pool: its output
    // gradient and the gradients it produced that were added into an existing one.
    dead.push(g);
    for (let i = 0; i < dead.length; i++) {
      const d = dead[i]!;
      // once per buffer (a backward may hand the same array to two inputs), never one still held
      if (!taken.includes(d.buffer) && d !== seed && dead.indexOf(d) === i) recycle(d);
    }
    // Release the graph as we go: nothing is retained between steps. A released intermediate is
    // no longer part of any graph, so it must not later pass for a leaf that wants a .grad.
    t.node = null;
    t.requiresGrad = false;
  }
  if (release) {
    for (const t of order) if (!t.node && t.grad) keep.add(t.grad.data.buffer);
    epoch++;
    evictStale();
    for (const a of acts) if (!keep.has(a.buffer)) recycle(a, true);
  }
}
