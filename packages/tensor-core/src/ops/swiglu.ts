/** SwiGLU: silu(gate) ⊙ up, the LLaMA FFN's gating, fused so the intermediate silu is never stored. */
import { record } from '../autograd.js';
import { runKernel } from '../registry.js';
import { Tensor, assertFloat, assertSameShape } from '../tensor.js';

export function swiglu(gate: Tensor, up: Tensor): Tensor {
  assertFloat('swiglu', gate, up);
  assertSameShape('swiglu', gate, up);
  const g = gate.f32();
  const u = up.f32();
  const out = new Float32Array(g.length);
  runKernel('swiglu', { gate: g, up: u, out });
  return record(new Tensor(out, gate.shape), 'swiglu', [gate, up], (go) => {
    const n = go.length;
    const gg = gate.requiresGrad ? new Float32Array(n) : null;
    const gu = up.requiresGrad ? new Float32Array(n) : null;
    for (let i = 0; i < n; i++) {
      const x = g[i]!;
      const s = 1 / (1 + Math.exp(-x));
      if (gu) gu[i] = go[i]! * x * s;
      if (gg) gg[i] = go[i]! * u[i]! * s * (1 + x * (1 - s));
    }
    return [gg, gu];
  });
}
