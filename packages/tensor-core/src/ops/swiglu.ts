/** SwiGLU: silu(gate) ⊙ up, the LLaMA FFN's gating, fused so the intermediate silu is never stored. */
import { gradBuffer, record } from '../autograd.js';
import { runKernel } from '../registry.js';
import { Tensor, assertFloat, assertSameShape } from '../tensor.js';

export function swiglu(gate: Tensor, up: Tensor): Tensor {
  assertFloat('swiglu', gate, up);
  assertSameShape('swiglu', gate, up);
  const g = gate.f32();
  const u = up.f32();
  const out = gradBuffer(g.length);
  runKernel('swiglu', { gate: g, up: u, out });
  return record(new Tensor(out, gate.shape), 'swiglu', [gate, up], (go) => {
    const n = go.length;
    const dGate = gate.requiresGrad ? gradBuffer(n) : null; // both overwritten by the kernel
    const dUp = up.requiresGrad ? gradBuffer(n) : null;
    runKernel('swigluBackward', { gate: g, up: u, g: go, dGate, dUp });
    return [dGate, dUp];
  });
}
