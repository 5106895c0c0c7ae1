/**
 * Scalar and row-wise math shared by the gates: the normal CDF/PDF used by the smooth load
 * estimator, row softmax and its backward, logsumexp, softplus. All arithmetic runs in float64
 * (plain JS numbers); results are written into the caller's buffer, whose precision decides the
 * final rounding.
 */
import { RouterError, type FloatArray } from './errors.js';

const INV_SQRT_2PI = 0.3989422804014327;
const SQRT2 = Math.SQRT2;

/**
 * Standard normal CDF Φ(x). Hart (1968) / West (2005) double-precision rational approximation;
 * absolute error below 1e-14 over the whole real line (checked in math.test.ts against a
 * series expansion of erf), far inside the 1e-7 the router needs.
 */
export function normalCdf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  let c: number;
  if (a > 37) {
    c = 0;
  } else {
    const e = Math.exp(-0.5 * a * a);
    if (a < 7.07106781186547) {
      let num = 3.52624965998911e-2 * a + 0.700383064443688;
      num = num * a + 6.37396220353165;
      num = num * a + 33.912866078383;
      num = num * a + 112.079291497871;
      num = num * a + 221.213596169931;
      num = num * a + 220.206867912376;
      let den = 8.83883476483184e-2 * a + 1.75566716318264;
      den = den * a + 16.064177579207;
      den = den * a + 86.7807322029461;
      den = den * a + 296.564248779674;
      den = den * a + 637.333633378831;
      den = den * a + 793.826512519948;
      den = den * a + 440.413735824752;
      c = (e * num) / den;
    } else {
      // Continued fraction for the far tail.
      let b = a + 0.65;
      b = a + 4 / b;
      b = a + 3 / b;
      b = a + 2 / b;
      b = a + 1 / b;
      c = e / b / 2.506628274631;
    }
  }
  return x > 0 ? 1 - c : c;
}

/** Standard normal density φ(x) = dΦ/dx. */
export function normalPdf(x: number): number {
  return INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

/** Error function via erf(x) = 2Φ(x√2) − 1; absolute error below 1e-14. */
export function erf(x: number): number {
  return 2 * normalCdf(x * SQRT2) - 1;
}

/** PyTorch's softplus (beta 1, threshold 20): log(1 + e^x), and x itself above 20. */
export function softplus(x: number): number {
  if (x > 20) return x;
  // log1p(exp(x)) loses nothing for very negative x, and max(x,0)+log1p(exp(-|x|)) is stable.
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

/** d softplus / dx = sigmoid(x) (and 1 above PyTorch's threshold of 20). */
export function softplusGrad(x: number): number {
  if (x > 20) return 1;
  return 1 / (1 + Math.exp(-x));
}

/**
 * LLaMA-MoE's `noise_control = softplus(x · W_noise) + noise_epsilon`: the per-(token, expert)
 * noise standard deviation of TopKBalancedNoisyGate, from the caller's `noise_mm = x · W_noise`.
 * Returns a new buffer of the same precision.
 */
export function noiseControl<A extends FloatArray>(noiseMm: A, noise_epsilon = 1e-2): A {
  if (!(noise_epsilon >= 0) || !Number.isFinite(noise_epsilon)) {
    throw new RouterError('argument', 'noiseControl.noise_epsilon', `must be a finite number >= 0, got ${noise_epsilon}`);
  }
  const out = (noiseMm instanceof Float64Array ? new Float64Array(noiseMm.length) : new Float32Array(noiseMm.length)) as A;
  for (let i = 0; i < noiseMm.length; i++) out[i] = softplus(noiseMm[i]!) + noise_epsilon;
  return out;
}

/** Backward of `noiseControl`: dL/d noise_mm = dL/d noise_std · sigmoid(noise_mm). */
export function noiseControlBackward<A extends FloatArray>(noiseMm: A, dNoiseStd: FloatArray): A {
  if (dNoiseStd.length !== noiseMm.length) {
    throw new RouterError('shape', 'noiseControlBackward', `dNoiseStd has ${dNoiseStd.length} elements but noise_mm has ${noiseMm.length}; both are [T, E]`);
  }
  const out = (noiseMm instanceof Float64Array ? new Float64Array(noiseMm.length) : new Float32Array(noiseMm.length)) as A;
  for (let i = 0; i < noiseMm.length; i++) out[i] = dNoiseStd[i]! * softplusGrad(noiseMm[i]!);
  return out;
}

/**
 * Row-wise softmax of `[T, E]` logits into `out` (may alias `logits`). -Infinity entries are
 * allowed (masked experts); a row whose maximum is not finite throws, because its softmax is
 * undefined.
 */
export function softmaxRows(op: string, logits: FloatArray, T: number, E: number, out: FloatArray): void {
  for (let t = 0; t < T; t++) {
    const base = t * E;
    let max = -Infinity;
    for (let e = 0; e < E; e++) {
      const v = logits[base + e]!;
      if (v !== v) throw new RouterError('value', op, `logits[${t}, ${e}] is NaN; check the gate's input`);
      if (v > max) max = v;
    }
    if (!Number.isFinite(max)) {
      throw new RouterError('value', op, `row ${t} of the logits has maximum ${max}; softmax needs at least one finite logit and none +Infinity`);
    }
    let sum = 0;
    for (let e = 0; e < E; e++) sum += Math.exp(logits[base + e]! - max);
    const inv = 1 / sum;
    for (let e = 0; e < E; e++) out[base + e] = Math.exp(logits[base + e]! - max) * inv;
  }
}

/**
 * Backward of a row softmax: dLogits[t,e] = P[t,e]·(dP[t,e] − Σ_j P[t,j]·dP[t,j]), written to `out`
 * (`out` may alias `dProbs`).
 */
export function softmaxRowsBackward(probs: FloatArray, dProbs: FloatArray, T: number, E: number, out: FloatArray): void {
  for (let t = 0; t < T; t++) {
    const base = t * E;
    let dot = 0;
    for (let e = 0; e < E; e++) dot += probs[base + e]! * dProbs[base + e]!;
    for (let e = 0; e < E; e++) out[base + e] = probs[base + e]! * (dProbs[base + e]! - dot);
  }
}

/** log Σ_e exp(logits[t, e]) for one row, stable. */
export function logSumExpRow(logits: FloatArray, base: number, E: number): number {
  let max = -Infinity;
  for (let e = 0; e < E; e++) {
    const v = logits[base + e]!;
    if (v > max) max = v;
  }
  if (!Number.isFinite(max)) return max;
  let sum = 0;
  for (let e = 0; e < E; e++) sum += Math.exp(logits[base + e]! - max);
  return max + Math.log(sum);
}

/** Shannon entropy (nats) of a non-negative vector after normalising it to sum 1; 0 for an all-zero vector. */
export function entropyOf(values: ArrayLike<number>, offset = 0, length = values.length - offset): number {
  let sum = 0;
  for (let i = 0; i < length; i++) sum += values[offset + i]!;
  if (!(sum > 0)) return 0;
  let h = 0;
  for (let i = 0; i < length; i++) {
    const p = values[offset + i]! / sum;
    if (p > 0) h -= p * Math.log(p);
  }
  return h;
}
