import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { centralDiff, randn, randn64, shapeArb, sortTopk } from '../../test/helpers.js';
import { RouterError, applyJitter, createRng, loadBalancingLoss, mixtralGate, mixtralGateBackward } from '../index.js';

/**
 * Direct float64 transcription of transformers' load_balancing_loss_func (Mixtral):
 *   routing_weights = softmax(cat(gate_logits), -1); _, selected = topk(routing_weights, top_k)
 *   expert_mask = one_hot(selected, E)                          # [T, k, E]
 *   tokens_per_expert = mean(expert_mask, 0)                    # [k, E]   (masked: Σ m·mask / Σ m)
 *   router_prob_per_expert = mean(routing_weights, 0)           # [E]
 *   return sum(tokens_per_expert * router_prob_per_expert.unsqueeze(0)) * E
 */
function hfLoadBalancingLoss(layers: Float64Array[], E: number, topK: number, mask?: number[]): number {
  const rw: number[][] = [];
  const m: number[] = [];
  for (const l of layers) {
    const T = l.length / E;
    for (let t = 0; t < T; t++) {
      const row = Array.from(l.subarray(t * E, (t + 1) * E));
      const mx = Math.max(...row);
      const ex = row.map((v) => Math.exp(v - mx));
      const z = ex.reduce((a, b) => a + b, 0);
      rw.push(ex.map((v) => v / z));
      m.push(mask ? mask[t] : 1);
    }
  }
  const T = rw.length;
  const expertMask = rw.map((row) => sortTopk(row, topK).map((e) => Array.from({ length: E }, (_, j) => (j === e ? 1 : 0))));
  const msum = m.reduce((a, b) => a + b, 0);
  let loss = 0;
  for (let k = 0; k < topK; k++) {
    for (let e = 0; e < E; e++) {
      let tpe = 0;
      let rp = 0;
      for (let t = 0; t < T; t++) {
        tpe += expertMask[t][k][e] * m[t];
        rp += rw[t][e] * m[t];
      }
      loss += (tpe / msum) * (rp / msum);
    }
  }
  return loss * E;
}

describe('mixtralGate', () => {
  it('selects top-k probabilities and renormalises them to sum 1 (or keeps raw probs)', () => {
    fc.assert(
      fc.property(shapeArb(), fc.boolean(), ({ T, E, k, seed }, norm) => {
        const logits = randn64(T * E, seed, 2);
        const r = mixtralGate(logits, E, { num_experts_per_tok: k, norm_topk_prob: norm });
        for (let t = 0; t < T; t++) {
          const sel = sortTopk(r.probs.subarray(t * E, (t + 1) * E), k);
          expect(Array.from(r.topkIndices.subarray(t * k, (t + 1) * k))).toEqual(sel);
          const raw = sel.map((e) => r.probs[t * E + e]);
          const z = raw.reduce((a, b) => a + b, 0);
          for (let j = 0; j < k; j++) expect(r.topkScores[t * k + j]).toBeCloseTo(norm ? raw[j] / z : raw[j], 12);
          if (norm) expect(raw.reduce((a, _, j) => a + r.topkScores[t * k + j], 0)).toBeCloseTo(1, 12);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('aux loss equals a float64 transcription of HF load_balancing_loss_func, with and without attention_mask', () => {
    fc.assert(
      fc.property(shapeArb(), fc.boolean(), fc.double({ min: 0.0001, max: 0.1, noNaN: true }), ({ T, E, k, seed }, masked, coef) => {
        const logits = randn64(T * E, seed, 2);
        const rng = createRng(seed);
        const mask = masked ? Array.from({ length: T }, (_, t) => (t === 0 ? 1 : rng.int(2))) : undefined;
        const r = mixtralGate(logits, E, { num_experts_per_tok: k, router_aux_loss_coef: coef, attention_mask: mask });
        const ref = hfLoadBalancingLoss([logits], E, k, mask);
        expect(r.auxLoss).toBeCloseTo(ref, 12);
        expect(r.balanceLoss).toBeCloseTo(coef * ref, 14);
        expect(loadBalancingLoss(logits, E, k, mask)).toBeCloseTo(ref, 12);
      }),
      { numRuns: 100 },
    );
  });

  it('loadBalancingLoss concatenates layers like HF, sharing one mask across them', () => {
    fc.assert(
      fc.property(shapeArb(9, 6), fc.integer({ min: 1, max: 4 }), fc.boolean(), ({ T, E, k, seed }, L, masked) => {
        const layers = Array.from({ length: L }, (_, l) => randn64(T * E, seed + 17 * l, 2));
        const rng = createRng(seed);
        const mask = masked ? Array.from({ length: T }, (_, t) => (t === 0 ? 1 : rng.int(2))) : undefined;
        expect(loadBalancingLoss(layers, E, k, mask)).toBeCloseTo(hfLoadBalancingLoss(layers, E, k, mask), 12);
      }),
      { numRuns: 60 },
    );
    expect(() => loadBalancingLoss([new Float32Array(6)], 3, 2, [1, 1, 1])).toThrow(/attention_mask has 3/);
  });

  it('defaults: k = 2, norm_topk_prob, router_aux_loss_coef = 0.001', () => {
    const logits = randn(5 * 4, 3) as Float32Array;
    const r = mixtralGate(logits, 4);
    expect(r.numSelects).toBe(2);
    expect(r.normTopkProb).toBe(true);
    expect(r.balanceLoss).toBeCloseTo(0.001 * r.auxLoss, 10);
    expect(() => mixtralGate(logits, 4, { num_experts_per_tok: 5 })).toThrow(RouterError);
  });

  it('backward matches central finite differences (aux loss through router_prob_per_expert, weights through renormalisation)', () => {
    fc.assert(
      fc.property(shapeArb(8, 6), fc.boolean(), fc.boolean(), ({ T, E, k, seed }, norm, masked) => {
        const logits = randn64(T * E, seed, 2);
        const g = randn64(T * k, seed + 5);
        const mask = masked ? Array.from({ length: T }, (_, t) => (t % 3 === 2 ? 0 : 1)) : undefined;
        const opts = { num_experts_per_tok: k, norm_topk_prob: norm, router_aux_loss_coef: 0.1, attention_mask: mask };
        const fwd = mixtralGate(logits, E, opts);
        const d = mixtralGateBackward(fwd, { dTopkScores: g, dBalanceLoss: 2 });
        const f = (x: Float64Array) => {
          const r = mixtralGate(x, E, opts);
          let s = 2 * r.balanceLoss;
          for (let i = 0; i < g.length; i++) s += g[i] * r.topkScores[i];
          return s;
        };
        for (let i = 0; i < T * E; i++) {
          const fd = centralDiff(f, logits, i);
          expect(Math.abs(d[i] - fd)).toBeLessThan(1e-7 * Math.max(1, Math.abs(fd)));
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('applyJitter', () => {
  it('multiplies by uniform(1 − j, 1 + j), deterministically per seed, and records the multipliers', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.double({ min: 0, max: 0.5, noNaN: true }), fc.integer({ min: 0, max: 1e6 }), (n, j, seed) => {
        const x = randn64(n, seed);
        const mult = new Float64Array(n);
        const y = applyJitter(x, j, createRng(seed), mult);
        const y2 = applyJitter(x, j, createRng(seed));
        expect(Array.from(y)).toEqual(Array.from(y2));
        for (let i = 0; i < n; i++) {
          expect(mult[i]).toBeGreaterThanOrEqual(1 - j);
          expect(mult[i]).toBeLessThanOrEqual(1 + j);
          expect(y[i]).toBe(x[i] * mult[i]);
        }
      }),
      { numRuns: 50 },
    );
    expect(() => applyJitter(new Float32Array(2), 1, createRng(0))).toThrow(RouterError);
  });
});
