import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { centralDiff, randn, randn64, shapeArb, tiedLogits } from '../../test/helpers.js';
import { RouterError, expertCapacity, switchGate, switchGateBackward, switchRoute } from '../index.js';

describe('switchGate', () => {
  it('routes top-1 by probability, never exceeds capacity and drops later tokens first', () => {
    fc.assert(
      fc.property(shapeArb(40, 7), fc.double({ min: 0.1, max: 3, noNaN: true }), fc.boolean(), ({ T, E, seed }, cf, ties) => {
        const logits = ties ? tiedLogits(T * E, seed) : (randn(T * E, seed, 2) as Float32Array);
        const r = switchGate(logits, E, { capacity_factor: cf });
        const C = Math.max(1, Math.floor((cf * T) / E));
        expect(r.capacity).toBe(C);
        const seen = new Array<number>(E).fill(0);
        let dropped = 0;
        for (let t = 0; t < T; t++) {
          const e = r.topkIndices[t];
          for (let j = 0; j < E; j++) {
            const better = r.probs[t * E + j] > r.probs[t * E + e] || (r.probs[t * E + j] === r.probs[t * E + e] && j < e);
            expect(better).toBe(false);
          }
          expect(r.topkScores[t]).toBe(r.probs[t * E + e]);
          // First come, first served: the token is dropped iff its expert already holds C tokens.
          expect(r.plan.dropped[t]).toBe(seen[e] >= C ? 1 : 0);
          if (seen[e] >= C) dropped++;
          seen[e]++;
        }
        expect(r.droppedTokens).toBe(dropped);
        let kept = 0;
        for (let e = 0; e < E; e++) {
          expect(r.plan.counts[e]).toBeLessThanOrEqual(C);
          expect(r.tokensPerExpert[e]).toBe(seen[e]);
          kept += r.plan.counts[e];
        }
        expect(kept).toBe(T - dropped);
      }),
      { numRuns: 150 },
    );
  });

  it('switch loss is w · E · Σ_e f_e · P̄_e with f counted before dropping', () => {
    fc.assert(
      fc.property(shapeArb(30, 8), ({ T, E, seed }) => {
        const logits = randn64(T * E, seed, 2);
        const r = switchGate(logits, E, { capacity_factor: 0.5, balance_loss_weight: 0.03 });
        let loss = 0;
        for (let e = 0; e < E; e++) {
          let f = 0;
          let p = 0;
          for (let t = 0; t < T; t++) {
            let z = 0;
            for (let j = 0; j < E; j++) z += Math.exp(logits[t * E + j]);
            p += Math.exp(logits[t * E + e]) / z;
            if (r.topkIndices[t] === e) f++;
          }
          loss += (f / T) * (p / T);
        }
        expect(r.balanceLoss).toBeCloseTo(0.03 * E * loss, 12);
      }),
      { numRuns: 60 },
    );
    // Perfectly uniform routing (every expert T/E tokens, uniform probs) gives exactly w.
    const E = 4;
    const uniform = new Float64Array(8 * E);
    const r = switchGate(uniform, E);
    expect(r.topkIndices.every((e) => e === 0)).toBe(true); // ties go to the lowest index
    expect(r.balanceLoss).toBeCloseTo(0.01 * E * (1 * 0.25), 12);
    expect(switchGate(uniform, E, { use_balance: false }).balanceLoss).toBe(0);
  });

  it('backward matches central finite differences (switch loss through P̄, scores through P)', () => {
    fc.assert(
      fc.property(shapeArb(9, 6), ({ T, E, seed }) => {
        const logits = randn64(T * E, seed, 2);
        const g = randn64(T, seed + 1);
        const fwd = switchGate(logits, E, { balance_loss_weight: 0.2 });
        const d = switchGateBackward(fwd, { dTopkScores: g, dBalanceLoss: 1.3 });
        const f = (x: Float64Array) => {
          const r = switchGate(x, E, { balance_loss_weight: 0.2 });
          let s = 1.3 * r.balanceLoss;
          for (let t = 0; t < T; t++) s += g[t] * r.topkScores[t];
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

  it("switchRoute: selection noise moves only the argmax; score 'logit' is the chosen raw logit, and its backward matches finite differences", () => {
    fc.assert(
      fc.property(shapeArb(9, 6), ({ T, E, seed }) => {
        const logits = randn64(T * E, seed, 2);
        const noise = randn64(T * E, seed + 2, 3);
        const g = randn64(T, seed + 1);
        const opts = { balance_loss_weight: 0.2, noise, score: 'logit' as const };
        const fwd = switchRoute(logits, E, opts);
        const plain = switchGate(logits, E, { balance_loss_weight: 0.2 });
        expect(Array.from(fwd.probs)).toEqual(Array.from(plain.probs));
        for (let t = 0; t < T; t++) {
          const e = fwd.topkIndices[t];
          for (let j = 0; j < E; j++) expect(logits[t * E + j] + noise[t * E + j]).toBeLessThanOrEqual(logits[t * E + e] + noise[t * E + e]);
          expect(fwd.topkScores[t]).toBe(logits[t * E + e]);
        }
        const d = switchGateBackward(fwd, { dTopkScores: g, dBalanceLoss: 1.3 });
        const f = (x: Float64Array) => {
          const r = switchRoute(x, E, opts);
          let s = 1.3 * r.balanceLoss;
          for (let t = 0; t < T; t++) s += g[t] * r.topkScores[t];
          return s;
        };
        for (let i = 0; i < T * E; i++) {
          const fd = centralDiff(f, logits, i);
          expect(Math.abs(d[i] - fd)).toBeLessThan(1e-7 * Math.max(1, Math.abs(fd)));
        }
      }),
      { numRuns: 40 },
    );
    expect(() => switchRoute(new Float32Array(6), 3, { score: 'max' as never })).toThrow(/score must be 'prob' or 'logit'/);
    expect(() => switchRoute(new Float32Array(6), 3, { noise: new Float32Array(5) })).toThrow(/noise must have 6 elements/);
  });

  it('documents its capacity formula and rejects bad options', () => {
    expect(expertCapacity(1.25, 10, 4)).toBe(3);
    expect(expertCapacity(1, 3, 8)).toBe(1);
    expect(() => expertCapacity(0, 3, 8)).toThrow(RouterError);
    expect(() => switchGate(new Float32Array(6), 3, { dropped_padding: 'copy' as never })).toThrow(/dropped_padding/);
    expect(switchGate(new Float32Array(6), 3, { capacity: Infinity }).droppedTokens).toBe(0);
  });
});
