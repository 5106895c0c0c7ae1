/**
 * swigluExperts: one token through a list of SwiGLU experts, the outputs added with their combine
 * weights, as one kernel call (registry kernel `swigluExperts`):
 *
 *   y = Σ_e coef[e] · down_e (silu(x·gate_eᵀ) ⊙ (x·up_eᵀ))      x [1, D] → y [1, D]
 *
 * An MoE layer's decode step: k routed experts (and any shared ones with weight 1) in one call
 * instead of three products, a SwiGLU and a scatter-add per expert. On weights pinned into a
 * WebAssembly weight arena (pinTensors) the wasm kernel reads them in place in two fork-joins;
 * elsewhere the cpu oracle runs, so callers take this path only for pinned weights. Inference
 * only: it records no gradient and refuses inputs that need one.
 */
import { gradBuffer, needsGrad } from '../autograd.js';
import { ShapeError, TensorError, fmtShape } from '../errors.js';
import { runKernel } from '../registry.js';
import { Tensor, assertFloat } from '../tensor.js';

/** [s, D] gate and up, [D, s] down: the shapes swigluMlp takes. */
export interface SwigluExpertWeights {
  gate: Tensor;
  up: Tensor;
  down: Tensor;
}

/** x [1, D] (or [D]) → [1, D]: Σ_e coef[e] · swigluMlp(x, experts[e]). */
export function swigluExperts(x: Tensor, experts: readonly SwigluExpertWeights[], coef: ArrayLike<number>): Tensor {
  const D = x.shape[x.rank - 1]!;
  if (x.size !== D) throw new ShapeError('swigluExperts', `expected one token, x [1, D] or [D]; got ${fmtShape(x.shape)}`);
  if (coef.length !== experts.length) throw new ShapeError('swigluExperts', `${experts.length} experts but ${coef.length} combine weights`);
  const sizes: number[] = [];
  for (const e of experts) {
    assertFloat('swigluExperts', e.gate, e.up, e.down);
    const s = e.gate.shape[0]!;
    if (e.gate.rank !== 2 || e.up.rank !== 2 || e.down.rank !== 2 || e.gate.shape[1] !== D || e.up.shape[0] !== s || e.up.shape[1] !== D || e.down.shape[0] !== D || e.down.shape[1] !== s) {
      throw new ShapeError('swigluExperts', `expected gate and up [s, ${D}], down [${D}, s]; got ${fmtShape(e.gate.shape)}, ${fmtShape(e.up.shape)}, ${fmtShape(e.down.shape)}`);
    }
    sizes.push(s);
  }
  if (needsGrad(x, ...experts.flatMap((e) => [e.gate, e.up, e.down]))) {
    throw new TensorError('argument', 'swigluExperts', 'inference only: an input requires a gradient (use swigluMlp per expert, or run under noGrad)');
  }
  const out = gradBuffer(D);
  if (experts.length === 0) out.fill(0);
  else runKernel('swigluExperts', { x: x.f32(), gates: experts.map((e) => e.gate.f32()), ups: experts.map((e) => e.up.f32()), downs: experts.map((e) => e.down.f32()), coef, sizes, dim: D, out });
  return new Tensor(out, [1, D]);
}
