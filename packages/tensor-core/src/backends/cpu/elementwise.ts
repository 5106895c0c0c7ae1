/** cpu/elementwise: binary, unary and SwiGLU kernels (same-length arrays; broadcasting lives in the op layer). */
import type { BinaryArgs, SumSquaresArgs, SwigluArgs, SwigluBackwardArgs, UnaryArgs, UnaryOpName } from '../../registry.js';

export function binaryCpu({ op, a, b, out }: BinaryArgs): void {
  const n = out.length;
  switch (op) {
    case 'add': for (let i = 0; i < n; i++) out[i] = a[i]! + b[i]!; break;
    case 'sub': for (let i = 0; i < n; i++) out[i] = a[i]! - b[i]!; break;
    case 'mul': for (let i = 0; i < n; i++) out[i] = a[i]! * b[i]!; break;
    case 'div': for (let i = 0; i < n; i++) out[i] = a[i]! / b[i]!; break;
  }
}

/** Σ x² in f64, element by element in order. */
export function sumSquaresCpu({ x, acc }: SumSquaresArgs): void {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  acc[0]! += s;
}

/**
 * erf in f64 to ~1e-15: for |x| < 3 the all-positive series
 * erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)) (no cancellation); beyond, the
 * continued fraction of erfc evaluated bottom-up (converges fast for large x).
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < 3) {
    const x2 = ax * ax;
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (2 * x2) / (2 * n + 1);
      sum += term;
      if (term < sum * 1e-17) break;
    }
    const r = (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
    return x < 0 ? -r : r;
  }
  if (ax > 6) return x < 0 ? -1 : 1;
  // erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …)))))
  let f = ax;
  for (let n = 60; n >= 1; n--) f = ax + n / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return x < 0 ? erfc - 1 : 1 - erfc;
}

export function unaryScalar(op: UnaryOpName, x: number): number {
  switch (op) {
    case 'silu': return x / (1 + Math.exp(-x));
    case 'sigmoid': return 1 / (1 + Math.exp(-x));
    case 'tanh': return Math.tanh(x);
    // softplus with PyTorch's threshold (20): linear above it, avoids exp overflow.
    case 'softplus': return x > 20 ? x : Math.log1p(Math.exp(x));
    case 'exp': return Math.exp(x);
    case 'neg': return -x;
    case 'relu': return x > 0 ? x : 0;
    case 'gelu': return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'sqrt': return Math.sqrt(x);
    case 'log': return Math.log(x);
  }
}

export function unaryCpu({ op, x, out }: UnaryArgs): void {
  const n = out.length;
  if (op === 'silu') {
    for (let i = 0; i < n; i++) { const v = x[i]!; out[i] = v / (1 + Math.exp(-v)); }
    return;
  }
  for (let i = 0; i < n; i++) out[i] = unaryScalar(op, x[i]!);
}

export function swigluCpu({ gate, up, out }: SwigluArgs): void {
  for (let i = 0; i < out.length; i++) {
    const g = gate[i]!;
    out[i] = (g / (1 + Math.exp(-g))) * up[i]!;
  }
}

export function swigluBackwardCpu({ gate, up, g: go, dGate, dUp }: SwigluBackwardArgs): void {
  for (let i = 0; i < go.length; i++) {
    const x = gate[i]!;
    const s = 1 / (1 + Math.exp(-x));
    if (dUp) dUp[i] = go[i]! * x * s;
    if (dGate) dGate[i] = go[i]! * up[i]! * s * (1 + x * (1 - s));
  }
}
