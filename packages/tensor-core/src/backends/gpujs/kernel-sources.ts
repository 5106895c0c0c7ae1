/**
 * gpu.js kernel bodies, kept as source strings rather than JS functions: gpu.js parses the
 * function text with acorn, so a transpiler or minifier rewriting a real function (renaming
 * `this.constants`, down-levelling `let`) would silently change what gets compiled.
 *
 * Conventions shared by every kernel here:
 * - Every array argument is a flat row-major Float32Array; shapes arrive as `this.constants`.
 * - Index arithmetic runs in f32 on the webasm backend (locals declared from integer expressions
 *   and loop counters are f32), so callers keep every array argument below 2^24 elements, where
 *   f32 still represents each integer index exactly (see `tiling.ts`).
 * - Accumulations use four partial sums: it lets the wasm engine overlap the dependent adds
 *   (about 1.7× on webasm) and halves the error growth of one long f32 chain.
 */
import type { BinaryOpName, UnaryOpName } from '../../registry.js';

/**
 * One GEMM tile: out[m, n] = Σ_i A[m, i] · B[i, n] with output [N, M] (thread.x = n, thread.y = m).
 * Constants: M, N, K (tile sizes) and K4 = K - K % 4.
 * a is [M, K] (or [K, M] when transA); b is [K, N] (or [N, K] when transB).
 */
export function matmulSource(transA: boolean, transB: boolean): string {
  const aAt = (i: string) => (transA ? `a[(${i}) * this.constants.M + this.thread.y]` : `a[ar + ${i}]`);
  const bAt = (i: string) => (transB ? `b[br + ${i}]` : `b[(${i}) * this.constants.N + this.thread.x]`);
  return `function (a, b) {
  const ar = this.thread.y * this.constants.K;
  const br = this.thread.x * this.constants.K;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let i = 0; i < this.constants.K4; i += 4) {
    s0 += ${aAt('i')} * ${bAt('i')};
    s1 += ${aAt('i + 1')} * ${bAt('i + 1')};
    s2 += ${aAt('i + 2')} * ${bAt('i + 2')};
    s3 += ${aAt('i + 3')} * ${bAt('i + 3')};
  }
  for (let j = this.constants.K4; j < this.constants.K; j++) {
    s0 += ${aAt('j')} * ${bAt('j')};
  }
  return (s0 + s1) + (s2 + s3);
}`;
}

const BINARY_EXPR: Record<BinaryOpName, string> = {
  add: 'a[this.thread.x] + b[this.thread.x]',
  sub: 'a[this.thread.x] - b[this.thread.x]',
  mul: 'a[this.thread.x] * b[this.thread.x]',
  div: 'a[this.thread.x] / b[this.thread.x]',
};

/** Same-length elementwise binary op, output [n]. */
export function binarySource(op: BinaryOpName): string {
  return `function (a, b) {
  return ${BINARY_EXPR[op]};
}`;
}

/**
 * Exact-erf GELU, x·Φ(x) = 0.5·x·(1 + erf(x/√2)), without Math.erf (JS has none, so gpu.js has
 * none). With a = |x| and p = Φ(−a), the result is x·(1 − p) for x ≥ 0 and x·p for x < 0, so the
 * left tail keeps its relative precision instead of being 1 + erf(−t) after cancellation.
 * - a < 1: erf(a/√2) = √(2/π)·e^(−a²/2)·Σ_n a^(2n+1)/(2n+1)!!, a series of positive terms
 *   (no cancellation, unlike the Taylor series); 40 terms converge far below f32 resolution.
 * - a ≥ 1: Laplace's continued fraction Φ(−a) = φ(a) / (a + 1/(a + 2/(a + 3/(a + …)))),
 *   100 levels bottom-up (relative error ~1e-8 at a = 1, far less beyond).
 * e^(−a²/2) splits a = ah + al with ah on a 2^-8 grid, so ah² is exact in f32 for a < 16 (beyond,
 * Φ(−a) < 1e-57 underflows, gelu is max(x, 0)): rounding a² directly would cost a²/2 ulps of relative error in the tail.
 */
const GELU_BODY = `const a = Math.abs(v);
  if (a >= 16) {
    return Math.max(v, 0);
  }
  const ah = Math.round(a * 256) / 256;
  const al = a - ah;
  const g = Math.exp(-0.5 * ah * ah) * Math.exp(-0.5 * al * (ah + a));
  let p = 0;
  if (a < 1) {
    const a2 = a * a;
    let term = a;
    let sum = a;
    for (let n = 1; n < 40; n++) {
      term = term * a2 / (2 * n + 1);
      sum += term;
    }
    p = 0.5 - 0.3989422804014327 * g * sum;
  } else {
    let f = a;
    for (let k = 100; k > 0; k--) {
      f = a + k / f;
    }
    p = 0.3989422804014327 * g / f;
  }
  if (v >= 0) {
    return v * (1 - p);
  }
  return v * p;`;

const UNARY_BODY: Record<UnaryOpName, string> = {
  silu: 'return v / (1 + Math.exp(-v));',
  tanh: 'return Math.tanh(v);',
  // log1p(e^−|x|) + max(x, 0): exact for large |x| where log(1 + e^x) overflows or rounds to 0
  softplus: 'return Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));',
  exp: 'return Math.exp(v);',
  neg: 'return -v;',
  sigmoid: 'return 1 / (1 + Math.exp(-v));',
  relu: 'return Math.max(v, 0);',
  gelu: GELU_BODY,
  sqrt: 'return Math.sqrt(v);',
  log: 'return Math.log(v);',
};

/** Elementwise unary op, output [n]. */
export function unarySource(op: UnaryOpName): string {
  return `function (x) {
  const v = x[this.thread.x];
  ${UNARY_BODY[op]}
}`;
}

/** SwiGLU: silu(gate) · up, output [n]. */
export const SWIGLU_SOURCE = `function (gate, up) {
  const g = gate[this.thread.x];
  return g / (1 + Math.exp(-g)) * up[this.thread.x];
}`;

/**
 * Per-row softmax statistics, output [R] of [max, Σ exp(x − max)]. Two passes per row (max, then
 * the shifted sum) so no exp ever sees a positive argument. Constant: C (row length).
 */
export const SOFTMAX_STATS_SOURCE = `function (x) {
  const base = this.thread.x * this.constants.C;
  let m = x[base];
  for (let c = 1; c < this.constants.C; c++) {
    m = Math.max(m, x[base + c]);
  }
  let s = 0;
  for (let c2 = 0; c2 < this.constants.C; c2++) {
    s += Math.exp(x[base + c2] - m);
  }
  return [m, s];
}`;

/** softmax = exp(x − max) / sum, output [C, R]; st is the flat [R, 2] statistics. */
export const SOFTMAX_APPLY_SOURCE = `function (x, st) {
  const r = this.thread.y;
  return Math.exp(x[r * this.constants.C + this.thread.x] - st[r * 2]) / st[r * 2 + 1];
}`;

/** Per-row 1/sqrt(mean(x²) + eps), output [R]. Constants: C, C4 = C − C % 4, eps. */
export const RMSNORM_STATS_SOURCE = `function (x) {
  const base = this.thread.x * this.constants.C;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let c = 0; c < this.constants.C4; c += 4) {
    const v0 = x[base + c];
    const v1 = x[base + c + 1];
    const v2 = x[base + c + 2];
    const v3 = x[base + c + 3];
    s0 += v0 * v0;
    s1 += v1 * v1;
    s2 += v2 * v2;
    s3 += v3 * v3;
  }
  for (let j = this.constants.C4; j < this.constants.C; j++) {
    const w = x[base + j];
    s0 += w * w;
  }
  return 1 / Math.sqrt(((s0 + s1) + (s2 + s3)) / this.constants.C + this.constants.eps);
}`;

/** out[r, c] = x[r, c] · invRms[r] · weight[c], output [C, R]. */
export const RMSNORM_APPLY_SOURCE = `function (x, inv, w) {
  return x[this.thread.y * this.constants.C + this.thread.x] * inv[this.thread.y] * w[this.thread.x];
}`;
