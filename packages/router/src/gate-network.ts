/**
 * The gate network on plain typed arrays, so an embedder can route hidden states without
 * tensor-core: LLaMA-MoE's `gate_network` ('linear': Linear(D, E); 'mlp': Linear(D, E) → tanh →
 * Linear(E, E), no biases) and Mixtral's `gate` (one Linear(D, E)). Weights are row-major as in the
 * checkpoints (`[out, in]`). Accumulates in float64; the output has the precision of `x`.
 */
import { RouterError, allocLike, checkFloat, rowsOf, type FloatArray } from './errors.js';

/** out[t, o] = Σ_i x[t, i] · w[o, i] (+ tanh when asked), for x [T, n] and w [m, n]. */
function linearRows(x: FloatArray, T: number, n: number, w: FloatArray, m: number, out: FloatArray, tanh: boolean): void {
  for (let t = 0; t < T; t++) {
    for (let o = 0; o < m; o++) {
      let z = 0;
      for (let i = 0; i < n; i++) z += x[t * n + i]! * w[o * n + i]!;
      out[t * m + o] = tanh ? Math.tanh(z) : z;
    }
  }
}

/**
 * Router logits `[T, E]` of hidden states `x [T, D]`: one weight `[E, D]` (LLaMA-MoE 'linear'
 * gate_network, Mixtral `gate.weight`) or two, `[E, D]` then `[E, E]` (LLaMA-MoE 'mlp':
 * gate_network.0 → tanh → gate_network.2). Feed the result to any gate function.
 */
export function gateLogits<A extends FloatArray>(x: A, hiddenSize: number, weights: readonly FloatArray[], numExperts: number): A {
  const op = 'gateLogits';
  const D = hiddenSize;
  const E = numExperts;
  const T = rowsOf(op, 'x', x, D, 'D');
  if (!Array.isArray(weights) || (weights.length !== 1 && weights.length !== 2)) {
    throw new RouterError('argument', op, `weights must list one [E, D] matrix (linear gate) or two, [E, D] and [E, E] (mlp gate), got ${Array.isArray(weights) ? weights.length : typeof weights}`);
  }
  checkFloat(op, 'weights[0]', weights[0], E * D, `[E=${E}, D=${D}]`);
  const out = allocLike(x, T * E);
  if (weights.length === 1) {
    linearRows(x, T, D, weights[0]!, E, out, false);
    return out;
  }
  checkFloat(op, 'weights[1]', weights[1], E * E, `[E=${E}, E=${E}]`);
  const hidden = new Float64Array(T * E);
  linearRows(x, T, D, weights[0]!, E, hidden, true);
  linearRows(hidden, T, E, weights[1]!, E, out, false);
  return out;
}
