import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { adamwCpu } from './adamw.js';

/** torch.optim.AdamW's update of one element in f64 (no intermediate rounding). */
function f64(x: number, g: number, m: number, v: number, s: { gradScale: number; decay: number; beta1: number; beta2: number; stepSize: number; bc2Sqrt: number; eps: number }) {
  const gi = g * s.gradScale;
  const mi = s.beta1 * m + (1 - s.beta1) * gi;
  const vi = s.beta2 * v + (1 - s.beta2) * gi * gi;
  return { x: x * s.decay - (s.stepSize * mi) / (Math.sqrt(vi) / s.bc2Sqrt + s.eps), m: mi, v: vi };
}

describe('cpu adamw (oracle)', () => {
  it('property: each op rounded to f32 stays within f32 accuracy of the exact f64 update, for both forms of lerp', () => {
    fc.assert(fc.property(
      fc.float({ min: -4, max: 4, noNaN: true }), fc.float({ min: -4, max: 4, noNaN: true }),
      fc.float({ min: -1, max: 1, noNaN: true }), fc.float({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0.05, max: 0.999, noNaN: true }), fc.double({ min: 0.5, max: 0.9999, noNaN: true }),
      fc.double({ min: 1e-5, max: 1e-1, noNaN: true }), fc.double({ min: 0.99, max: 1, noNaN: true }),
      (x, g, m, v, beta1, beta2, lr, decay) => {
        const s = { gradScale: 1, decay, beta1, beta2, stepSize: lr / (1 - beta1), bc2Sqrt: Math.sqrt(1 - beta2), eps: 1e-8 };
        const a = { param: Float32Array.of(x), grad: Float32Array.of(g), expAvg: Float32Array.of(m), expAvgSq: Float32Array.of(v), ...s };
        adamwCpu(a);
        const r = f64(x, g, m, v, s);
        const tol = (ref: number, scale: number) => 1e-5 * Math.max(Math.abs(ref), scale);
        expect(Math.abs(a.expAvg[0]! - r.m)).toBeLessThanOrEqual(tol(r.m, 1e-6));
        expect(Math.abs(a.expAvgSq[0]! - r.v)).toBeLessThanOrEqual(tol(r.v, 1e-6));
        // the step itself is at most stepSize·|m|/(√v/bc2+ε); compare the update with that scale
        expect(Math.abs(a.param[0]! - r.x)).toBeLessThanOrEqual(tol(r.x, 1e-3) + 1e-4 * Math.abs(x * decay - r.x));
      },
    ), { numRuns: 300 });
  });
});
