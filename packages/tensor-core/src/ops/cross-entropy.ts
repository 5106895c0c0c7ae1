/**
 * Cross-entropy of logits [N, V] against int32 targets [N], fused with log-softmax (as
 * torch.nn.functional.cross_entropy): targets equal to `ignoreIndex` (-100) are skipped and the
 * mean is over the remaining ones. Also returns nothing but the scalar loss; per-row losses are
 * available through `crossEntropyPerRow` for per-domain evaluation.
 */
import { gradBuffer, needsGrad, record } from '../autograd.js';
import { IndexError, ShapeError, fmtShape } from '../errors.js';
import { runKernel } from '../registry.js';
import { Tensor, assertFloat } from '../tensor.js';

export interface CrossEntropyOptions { ignoreIndex?: number; reduction?: 'mean' | 'sum' }

function check(logits: Tensor, targets: Tensor): [number, number, Int32Array] {
  assertFloat('crossEntropy', logits);
  const t = targets.i32('crossEntropy');
  if (logits.rank !== 2) throw new ShapeError('crossEntropy', `logits must be [N, V], got ${fmtShape(logits.shape)}`);
  const [N, V] = logits.shape as [number, number];
  if (t.length !== N) throw new ShapeError('crossEntropy', `targets ${fmtShape(targets.shape)} do not match logits ${fmtShape(logits.shape)}`);
  return [N, V, t];
}

/**
 * Negative log-likelihood of each row of x [N, V] into `nll` (ignored rows: 0). With `exps`, also
 * exp(x − max) into `exps` [N, V] and 1 / Σ exp(x − max) into `invSums` [N]: what the backward
 * needs, so each exponential (the cost of this op: V is 32000 for LLaMA) is computed once, by the
 * `expRows` kernel (SIMD on the wasm backend).
 */
function rowNll(x: Float32Array, V: number, t: Int32Array, ignoreIndex: number, nll: Float32Array | Float64Array, exps?: Float32Array, invSums?: Float64Array): void {
  const N = t.length;
  for (let i = 0; i < N; i++) {
    const y = t[i]!;
    if (y !== ignoreIndex && (y < 0 || y >= V)) throw new IndexError('crossEntropy', `target ${y} at row ${i} is out of range [0, ${V})`);
  }
  /** [N] row maxima */
  const max = new Float32Array(N);
  /** [N] Σ exp(x − max) */
  const sum = new Float64Array(N);
  runKernel('expRows', { x, out: exps ?? null, rows: N, cols: V, max, sum });
  for (let i = 0; i < N; i++) {
    const y = t[i]!;
    if (y === ignoreIndex) {
      nll[i] = 0;
      continue;
    }
    if (invSums) invSums[i] = 1 / sum[i]!;
    nll[i] = max[i]! + Math.log(sum[i]!) - x[i * V + y]!;
  }
}

/** Per-row negative log-likelihood (NaN-free; ignored rows give 0). No autograd. */
export function crossEntropyPerRow(logits: Tensor, targets: Tensor, ignoreIndex = -100): Float32Array {
  const [N, V, t] = check(logits, targets);
  const out = new Float32Array(N);
  rowNll(logits.f32(), V, t, ignoreIndex, out);
  return out;
}

export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const [N, V, t] = check(logits, targets);
  const grad = needsGrad(logits);
  /** [N, V] exp(x − max) per row, turned into the gradient in place by the backward */
  const p = grad ? gradBuffer(N * V) : undefined;
  /** [N] 1 / Σ exp(x − max) */
  const inv = grad ? new Float64Array(N) : undefined;
  const per = new Float64Array(N);
  rowNll(logits.f32(), V, t, ignoreIndex, per, p, inv);
  let count = 0;
  let total = 0;
  for (let i = 0; i < N; i++) if (t[i] !== ignoreIndex) { count++; total += per[i]!; }
  const mean = opts.reduction === 'sum' ? 1 : 1 / Math.max(count, 1);
  // torch returns NaN for a mean over zero targets; we return 0 so a fully padded batch is harmless.
  const loss = new Tensor(new Float32Array([total * mean]), []);
  if (!grad) return loss;
  return record(loss, 'crossEntropy', [logits], (g) => {
    const s0 = g[0]! * mean;
    // locals, not the closure's bindings, and one index in the inner loop: half the time per
    // element (the same arithmetic: 16 M products per step at V = 32000)
    const q = p!, iv = inv!;
    for (let i = 0; i < N; i++) {
      const o = i * V;
      const y = t[i]!;
      // softmax(x_i) − onehot(y); ignored rows get 0 (the kernel wrote their exponentials too).
      if (y === ignoreIndex) {
        q.fill(0, o, o + V);
        continue;
      }
      const a = iv[i]! * s0;
      const e = o + V;
      for (let c = o; c < e; c++) q[c]! *= a;
      q[o + y]! -= s0;
    }
    return [q];
  });
}
