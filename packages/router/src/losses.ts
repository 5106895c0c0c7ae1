/**
 * Auxiliary router losses that do not belong to one gate: the squared coefficient of variation
 * (LLaMA-MoE / Shazeer et al. 2017 balance loss) and the ST-MoE router z-loss.
 */
import { RouterError, allocLike, rowsOf, type FloatArray } from './errors.js';
import { logSumExpRow } from './math.js';

/** LLaMA-MoE's epsilon in `cv_squared`: var / (mean² + 1e-10). */
export const CV_SQUARED_EPS = 1e-10;

/**
 * Squared coefficient of variation, exactly LLaMA-MoE's `cv_squared`:
 * `x.var() / (x.mean()**2 + 1e-10)` with torch's default **unbiased** variance (divide by n − 1),
 * and 0 when x has a single element (torch.var of one element would be NaN).
 */
export function cvSquared(x: ArrayLike<number>): number {
  const n = x.length;
  if (n === 0) throw new RouterError('shape', 'cvSquared', 'x is empty; pass one value per expert');
  if (n === 1) return 0;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i]!;
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = x[i]! - mean;
    ss += d * d;
  }
  return ss / (n - 1) / (mean * mean + CV_SQUARED_EPS);
}

/** d cvSquared(x) / dx, times the upstream scalar `g`. Float64Array [n]. */
export function cvSquaredBackward(x: ArrayLike<number>, g = 1): Float64Array {
  const n = x.length;
  const out = new Float64Array(n);
  if (n <= 1 || g === 0) return out;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i]!;
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = x[i]! - mean;
    ss += d * d;
  }
  const variance = ss / (n - 1);
  const den = mean * mean + CV_SQUARED_EPS;
  // d var/dx_i = 2(x_i − μ)/(n−1); d den/dx_i = 2μ/n.
  const c = (variance * 2 * mean) / n / (den * den);
  for (let i = 0; i < n; i++) out[i] = g * ((2 * (x[i]! - mean)) / (n - 1) / den - c);
  return out;
}

export interface RouterZLossResult {
  /** coefficient · mean_t logsumexp(logits[t])². */
  loss: number;
  /** mean_t logsumexp(logits[t])², before the coefficient. */
  zLoss: number;
  /** Float64Array [T]: logsumexp per token, kept for the backward. */
  logSumExp: Float64Array;
}

/**
 * ST-MoE router z-loss (Zoph et al. 2022, eq. 5): `coef · (1/T) Σ_t (log Σ_e exp x[t,e])²`.
 * `router_z_loss_coef` defaults to 0.001, the ST-MoE / Switch-Transformers value.
 */
export function routerZLoss(logits: FloatArray, numExperts: number, router_z_loss_coef = 1e-3): RouterZLossResult {
  const T = rowsOf('routerZLoss', 'logits', logits, numExperts);
  const lse = new Float64Array(T);
  let sum = 0;
  for (let t = 0; t < T; t++) {
    const z = logSumExpRow(logits, t * numExperts, numExperts);
    if (!Number.isFinite(z)) throw new RouterError('value', 'routerZLoss', `row ${t} of the logits has logsumexp ${z}; check for NaN/Infinity`);
    lse[t] = z;
    sum += z * z;
  }
  const zLoss = T > 0 ? sum / T : 0;
  return { loss: router_z_loss_coef * zLoss, zLoss, logSumExp: lse };
}

/**
 * Backward of `routerZLoss`: dL/dx[t,e] = dLoss · coef · (2/T) · lse_t · softmax(x[t])_e.
 * Returns a buffer of the logits' precision.
 */
export function routerZLossBackward<A extends FloatArray>(
  /** [T, E] */ logits: A,
  numExperts: number,
  fwd: RouterZLossResult,
  router_z_loss_coef = 1e-3,
  dLoss = 1,
): A {
  const T = rowsOf('routerZLossBackward', 'logits', logits, numExperts);
  if (fwd.logSumExp.length !== T) {
    throw new RouterError('shape', 'routerZLossBackward', `fwd.logSumExp has ${fwd.logSumExp.length} tokens but logits have ${T}; pass the matching forward result`);
  }
  const out = allocLike(logits, logits.length);
  const E = numExperts;
  for (let t = 0; t < T; t++) {
    const z = fwd.logSumExp[t]!;
    const c = (dLoss * router_z_loss_coef * 2 * z) / T;
    for (let e = 0; e < E; e++) out[t * E + e] = c * Math.exp(logits[t * E + e]! - z);
  }
  return out;
}
