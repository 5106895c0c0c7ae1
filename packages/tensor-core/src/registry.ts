/**
 * Kernel registry keyed by (kernel, backend), after tfjs-core. `cpu` is plain TypeScript and is
 * the oracle: every kernel exists there, and every other backend is property-tested against it.
 * A backend may register a subset of kernels and may decline a call (`supports`), in which case
 * the next backend in the fallback chain (finally `cpu`) runs it. The backend that actually ran
 * each kernel is recorded and queryable, because silent fallbacks are how wrong benchmarks happen.
 */
import { TensorError } from './errors.js';
import { CPU_KERNELS } from './backends/cpu/index.js';

/** Row-major GEMM: out[b] (M×N) = op(A[b]) (M×K) · op(B[b]) (K×N) (+ out[b] when accumulate). */
export interface MatmulArgs {
  /** [batch, M, K] or [batch, K, M] when transA */
  a: Float32Array;
  /** [batch, K, N] or [batch, N, K] when transB */
  b: Float32Array;
  /** [batch, M, N] */
  out: Float32Array;
  batch: number;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  /** Elements between consecutive batch matrices of a (0 broadcasts one matrix over the batch). */
  aStride: number;
  bStride: number;
  /** Add into `out` instead of overwriting it. */
  accumulate: boolean;
}

export type BinaryOpName = 'add' | 'sub' | 'mul' | 'div';
/** Same-length elementwise binary op. Broadcasting is resolved by the op layer. */
export interface BinaryArgs { op: BinaryOpName; a: Float32Array; b: Float32Array; out: Float32Array }

export type UnaryOpName = 'silu' | 'tanh' | 'softplus' | 'exp' | 'neg' | 'sigmoid' | 'relu' | 'gelu' | 'sqrt' | 'log';
export interface UnaryArgs { op: UnaryOpName; x: Float32Array; out: Float32Array }

/** Row-wise softmax over the last axis. */
export interface SoftmaxArgs { x: Float32Array; out: Float32Array; rows: number; cols: number }

/** Row-wise RMSNorm: out = x / sqrt(mean(x²) + eps) * weight; optionally returns 1/rms per row. */
export interface RmsNormArgs {
  x: Float32Array;
  weight: Float32Array;
  out: Float32Array;
  rows: number;
  cols: number;
  eps: number;
  /** [rows] receives 1/sqrt(mean(x²)+eps) when given (needed by the backward pass). */
  invRms?: Float32Array;
}

/**
 * RMSNorm backward for rows of x [rows, cols] given y = x·inv·w and dL/dy = g:
 *   n = x·inv; dx = inv·(g·w − n·mean(g·w·n)); dw += Σ_rows g·n
 * `gx` [rows, cols] is overwritten, `gw` [cols] accumulated into; either may be null.
 */
export interface RmsNormBackwardArgs {
  x: Float32Array;
  weight: Float32Array;
  /** [rows] 1/rms from the forward */
  invRms: Float32Array;
  g: Float32Array;
  rows: number;
  cols: number;
  gx: Float32Array | null;
  gw: Float32Array | null;
}

/**
 * Scatter-add of scaled rows: out[index[s]] += alpha · coef[s] · row s, for rows of `cols` floats
 * taken in order from the blocks of `src` (slot s counts across blocks); coef null means 1. The
 * combine step of an MoE layer (expert outputs back to their tokens). Indices must be valid rows
 * of `out` (checked by the caller).
 */
export interface ScatterAddRowsArgs {
  /** row blocks, [n_i, cols] each; Σ n_i = index.length */
  src: readonly Float32Array[];
  /** [S] destination row of each slot */
  index: Int32Array;
  /** [S] per-slot factor, or null */
  coef: Float32Array | null;
  alpha: number;
  /** [rows, cols], accumulated into */
  out: Float32Array;
  cols: number;
}

/**
 * Gradient of scatterAddRows, given g = dL/d(out) [rows, cols]; for slot s with row g[index[s]]:
 *   dsrc block rows: alpha · coef[s] · g[index[s]]   (blocks shaped like `src`; a null block is skipped)
 *   dcoef[s] = alpha · ⟨g[index[s]], row s of src⟩    (when dcoef is given)
 */
export interface ScatterAddRowsBackwardArgs {
  g: Float32Array;
  src: readonly Float32Array[];
  index: Int32Array;
  coef: Float32Array | null;
  alpha: number;
  /** one per src block, overwritten; null where that block needs no gradient */
  dsrc: readonly (Float32Array | null)[];
  /** [S], overwritten, or null */
  dcoef: Float32Array | null;
  cols: number;
}

/**
 * Column gather: outs[j] ([rows, parts[j].length], row-major) = columns parts[j] of the row-major
 * [rows, cols] matrix src, every part in one pass over the source. Elements are 32-bit floats or
 * 16-bit (f16 / bf16) bit patterns, copied bit for bit. How the down_proj experts are cut from a
 * dense FFN. Columns outside [0, cols) and a source shorter than rows·cols are RangeErrors.
 */
export interface TakeColsArgs {
  /** [rows, cols] */
  src: Float32Array | Uint16Array;
  rows: number;
  cols: number;
  /** column indices of each part */
  parts: readonly ArrayLike<number>[];
  /** one per part, [rows, parts[j].length] each, the same element type as src; overwritten */
  outs: readonly (Float32Array | Uint16Array)[];
}

/** SwiGLU: out = silu(gate) * up, same length. */
export interface SwigluArgs { gate: Float32Array; up: Float32Array; out: Float32Array }

/**
 * One token's SwiGLU experts, combined (an MoE layer's decode step):
 *   out = Σ_e coef[e] · down_e (silu(gate_e x) ⊙ up_e x)
 * x [dim]; gate_e, up_e [sizes[e], dim]; down_e [dim, sizes[e]]; out [dim] is overwritten.
 * Inference only (no backward).
 */
export interface SwigluExpertsArgs {
  x: Float32Array;
  gates: readonly Float32Array[];
  ups: readonly Float32Array[];
  downs: readonly Float32Array[];
  /** One combine weight per expert. */
  coef: ArrayLike<number>;
  sizes: readonly number[];
  dim: number;
  out: Float32Array;
}

/**
 * SwiGLU backward: with s = sigmoid(gate) and upstream gradient g,
 * dGate = g·up·s·(1 + gate·(1 − s)), dUp = g·gate·s (either may be null).
 */
export interface SwigluBackwardArgs { gate: Float32Array; up: Float32Array; g: Float32Array; dGate: Float32Array | null; dUp: Float32Array | null }

/**
 * One AdamW update of a parameter tensor, in place, in the op order of torch.optim.AdamW's
 * single-tensor path with every op rounded to f32 (what torch's f32 CPU kernels compute):
 *   g' = g·gradScale;  θ ← θ·decay;  m ← lerp(m, g', 1 − β1);  v ← v·β2 + (1 − β2)·g'·g'
 *   θ ← θ + (−stepSize·m) / (√v / bc2Sqrt + ε)
 * The scalars are rounded to f32 once (adamwScalars), as torch converts Python floats.
 */
export interface AdamwArgs {
  /** [n] parameter, updated in place */
  param: Float32Array;
  /** [n] gradient, read only */
  grad: Float32Array;
  /** [n] first moment, updated in place */
  expAvg: Float32Array;
  /** [n] second moment, updated in place */
  expAvgSq: Float32Array;
  /** Clipping coefficient applied to each gradient element as it is read (1: none). */
  gradScale: number;
  /** 1 − lr·λ for parameters that decay, else 1. */
  decay: number;
  beta1: number;
  beta2: number;
  /** lr / (1 − β1ᵗ) */
  stepSize: number;
  /** √(1 − β2ᵗ) */
  bc2Sqrt: number;
  eps: number;
}

/**
 * Row-wise shifted exponentials, the core of softmax and cross-entropy: for each row r of x
 * [rows, cols], max[r] = max_c x[r, c], out[r, c] = exp(x[r, c] − max[r]) (when `out` is given)
 * and sum[r] = Σ_c exp(x[r, c] − max[r]) accumulated in f64. Backends agree to f32 accuracy (the
 * wasm exponential is a polynomial, relative error < 1e-6), not bit for bit. A row holding NaN
 * gives a NaN sum.
 */
export interface ExpRowsArgs {
  x: Float32Array;
  /** [rows, cols] or null when only the sums are wanted */
  out: Float32Array | null;
  rows: number;
  cols: number;
  /** [rows] receives the row maxima */
  max: Float32Array;
  /** [rows] receives the sums of the exponentials */
  sum: Float64Array;
}

/**
 * Attention probabilities from raw scores, row by row (in place when out === x): the first
 * `valid[r]` columns of row r (all of them when `valid` is null; clamped to [0, cols]) become
 * softmax(x·scale) and the rest 0, so a causal mask is a per-row count. With s = f32(scale):
 *   t = f32(x·s); m = max t; e = f32(exp(t − m)); Σ = Σ e in f64; p = f32(e · f32(1/Σ))
 * A row with no valid column is all 0; a NaN among its valid scores makes the row NaN. Backends
 * agree to f32 accuracy (the wasm exponential is a polynomial), not bit for bit.
 */
export interface MaskedSoftmaxArgs {
  /** [rows, cols] scores */
  x: Float32Array;
  /** [rows, cols] probabilities (may be x) */
  out: Float32Array;
  rows: number;
  cols: number;
  scale: number;
  /** [rows] columns each row sees, or null for all */
  valid: Int32Array | null;
}

/**
 * Gradient of MaskedSoftmax with respect to the raw scores, given the probabilities `p` and
 * g = dL/dp: over the first valid[r] columns of row r, out = f32(p·(g − Σ_j g_j·p_j)·scale) in
 * f64 (the dot product of exact f64 products); 0 beyond. `out` may be g.
 */
export interface MaskedSoftmaxBackwardArgs {
  /** [rows, cols] the forward's probabilities */
  p: Float32Array;
  /** [rows, cols] gradient with respect to p */
  g: Float32Array;
  /** [rows, cols] gradient with respect to the scores (may be g) */
  out: Float32Array;
  rows: number;
  cols: number;
  scale: number;
  /** [rows] as in the forward */
  valid: Int32Array | null;
}

/**
 * Zeroed AdamW moments for parameters of these sizes, appended to `out` in order: plain arrays
 * on `cpu`; on `wasm`, views of one WebAssembly memory that the `adamw` kernel then updates in
 * place (fewer copies per step). Either way they are ordinary Float32Arrays to every reader.
 */
export interface AdamwStateArgs {
  sizes: readonly number[];
  out: { expAvg: Float32Array; expAvgSq: Float32Array }[];
}

/** acc[0] += Σ x² with each element promoted to f64 and the sum kept in f64 (the gradient norm). */
export interface SumSquaresArgs {
  x: Float32Array;
  /** [1] accumulated into */
  acc: Float64Array;
}

export interface KernelSignatures {
  matmul: (args: MatmulArgs) => void;
  binary: (args: BinaryArgs) => void;
  unary: (args: UnaryArgs) => void;
  softmax: (args: SoftmaxArgs) => void;
  rmsnorm: (args: RmsNormArgs) => void;
  rmsnormBackward: (args: RmsNormBackwardArgs) => void;
  swiglu: (args: SwigluArgs) => void;
  swigluBackward: (args: SwigluBackwardArgs) => void;
  swigluExperts: (args: SwigluExpertsArgs) => void;
  adamw: (args: AdamwArgs) => void;
  expRows: (args: ExpRowsArgs) => void;
  maskedSoftmax: (args: MaskedSoftmaxArgs) => void;
  maskedSoftmaxBackward: (args: MaskedSoftmaxBackwardArgs) => void;
  sumSquares: (args: SumSquaresArgs) => void;
  adamwState: (args: AdamwStateArgs) => void;
  scatterAddRows: (args: ScatterAddRowsArgs) => void;
  scatterAddRowsBackward: (args: ScatterAddRowsBackwardArgs) => void;
  takeCols: (args: TakeColsArgs) => void;
}
export type KernelName = keyof KernelSignatures;

export interface KernelRegistration<K extends KernelName> {
  kernel: K;
  backend: string;
  fn: KernelSignatures[K];
  /** Return false to decline this call (e.g. too small to be worth a dispatch); the chain continues. */
  supports?: (args: Parameters<KernelSignatures[K]>[0]) => boolean;
}

const kernels = new Map<string, KernelRegistration<KernelName>>();
const lastRan = new Map<KernelName, string>();
const counts = new Map<string, number>();
/** Active backend chain, most preferred first; `cpu` is always last. */
let chain: string[] = ['cpu'];

const key = (kernel: string, backend: string) => `${kernel}\u0000${backend}`;

export function registerKernel<K extends KernelName>(reg: KernelRegistration<K>): void {
  kernels.set(key(reg.kernel, reg.backend), reg as unknown as KernelRegistration<KernelName>);
}

export function unregisterKernel(kernel: KernelName, backend: string): void {
  kernels.delete(key(kernel, backend));
}

export function getKernel<K extends KernelName>(kernel: K, backend: string): KernelRegistration<K> | undefined {
  return kernels.get(key(kernel, backend)) as KernelRegistration<K> | undefined;
}

export function listKernels(): { kernel: KernelName; backend: string }[] {
  return [...kernels.values()].map((r) => ({ kernel: r.kernel, backend: r.backend }));
}

let cpuRegistered = false;
/** Register the plain-TypeScript oracle kernels as backend `cpu`. Idempotent; the op layer calls it before the first kernel runs. */
export function registerCpuBackend(): void {
  if (cpuRegistered) return;
  cpuRegistered = true;
  for (const [kernel, fn] of Object.entries(CPU_KERNELS)) registerKernel({ kernel: kernel as KernelName, backend: 'cpu', fn } as KernelRegistration<KernelName>);
}

/**
 * Select the backend chain: `setBackend('gpujs')` prefers gpujs and falls back to cpu;
 * `setBackend(['native', 'wasm'])` tries native, then wasm, then cpu.
 */
export function setBackend(preferred: string | readonly string[]): void {
  registerCpuBackend();
  const list = typeof preferred === 'string' ? [preferred] : [...preferred];
  for (const b of list) {
    if (b !== 'cpu' && ![...kernels.values()].some((r) => r.backend === b)) {
      throw new TensorError('backend', 'setBackend', `no kernels registered for backend '${b}' (registered: ${registeredBackends().join(', ')}); import or initialise it first`);
    }
  }
  chain = [...list.filter((b) => b !== 'cpu'), 'cpu'];
}

export function getBackend(): string {
  return chain[0]!;
}

export function getBackendChain(): readonly string[] {
  return chain;
}

export function registeredBackends(): string[] {
  return [...new Set([...kernels.values()].map((r) => r.backend))];
}

/** The backend that ran the most recent call of `kernel` (undefined before the first call). */
export function lastBackend(kernel: KernelName): string | undefined {
  return lastRan.get(kernel);
}

/** How many times each (kernel, backend) pair ran since the last reset: `{ 'matmul/cpu': 12 }`. */
export function kernelCounts(): Record<string, number> {
  return Object.fromEntries(counts);
}
export function resetKernelCounts(): void {
  counts.clear();
  lastRan.clear();
}

/** Run `kernel` on the first backend of the active chain that has it and accepts the call. */
export function runKernel<K extends KernelName>(kernel: K, args: Parameters<KernelSignatures[K]>[0]): void {
  registerCpuBackend();
  for (const b of chain) {
    const reg = kernels.get(key(kernel, b)) as KernelRegistration<K> | undefined;
    if (!reg) continue;
    if (reg.supports && !reg.supports(args)) continue;
    (reg.fn as (a: typeof args) => void)(args);
    lastRan.set(kernel, b);
    const c = `${kernel}/${b}`;
    counts.set(c, (counts.get(c) ?? 0) + 1);
    return;
  }
  throw new TensorError('backend', kernel, `no backend in [${chain.join(', ')}] implements kernel '${kernel}'`);
}

/** Run `fn` with a temporary backend chain (restored afterwards, even on throw). */
export function withBackend<T>(preferred: string | readonly string[], fn: () => T): T {
  const saved = chain;
  setBackend(preferred);
  try {
    return fn();
  } finally {
    chain = saved;
  }
}
