import { describe, expect, it } from 'vitest';
import { randn64 } from '../test/helpers.js';
import { RouterError, buildDispatch, createRng, gateLogits, moeForward, noisyTopKGate, resolveScoreScale } from './index.js';

describe('gateLogits', () => {
  it('is x · W0ᵀ (linear) or tanh(x · W0ᵀ) · W2ᵀ (mlp), row-major [out, in] weights', () => {
    const T = 3, D = 4, E = 5;
    const x = randn64(T * D, 1), w0 = randn64(E * D, 2), w2 = randn64(E * E, 3);
    const lin = gateLogits(x, D, [w0], E);
    const mlp = gateLogits(x, D, [w0, w2], E);
    for (let t = 0; t < T; t++) {
      const h: number[] = [];
      for (let e = 0; e < E; e++) {
        let z = 0;
        for (let d = 0; d < D; d++) z += x[t * D + d] * w0[e * D + d];
        expect(lin[t * E + e]).toBeCloseTo(z, 12);
        h.push(Math.tanh(z));
      }
      for (let e = 0; e < E; e++) expect(mlp[t * E + e]).toBeCloseTo(h.reduce((s, v, j) => s + v * w2[e * E + j], 0), 12);
    }
    expect(gateLogits(new Float32Array(T * D), D, [new Float32Array(E * D)], E)).toBeInstanceOf(Float32Array);
    expect(() => gateLogits(x, D, [w2], E)).toThrow(RouterError);
    expect(() => gateLogits(x, D, [], E)).toThrow(/one \[E, D\] matrix/);
    expect(() => gateLogits(new Float32Array(7), D, [w0], E)).toThrow(/not a multiple of D=4/);
  });

  it('embedding: route a Float32Array of hidden states through a gate and the experts in a few lines', () => {
    const T = 6, D = 8, E = 4, k = 2;
    const rng = createRng(3);
    const x = rng.fillNormal(new Float32Array(T * D));
    const wGate = rng.fillNormal(new Float32Array(E * D));
    const gate = noisyTopKGate(gateLogits(x, D, [wGate], E), E, { num_selects: k });
    const plan = buildDispatch(gate.topkIndices, gate.topkScores, E, k);
    const y = moeForward(x, plan, (e, rows) => rows.map((v) => v * (e + 1)), { score_scale_factor: resolveScoreScale(undefined, 0, E, k) });
    expect(y).toBeInstanceOf(Float32Array);
    expect(y.length).toBe(T * D);
    expect(plan.routedSlots).toBe(T * k);
  });
});
