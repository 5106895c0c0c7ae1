import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { centralDiff, randn64, shapeArb, tiedLogits } from '../../test/helpers.js';
import { RouterError, expertChoiceBackward, expertChoiceGate } from '../index.js';

describe('expertChoiceGate', () => {
  it('each expert takes exactly its top-C tokens (capacity respected), in token order, weighted by prob', () => {
    fc.assert(
      fc.property(shapeArb(30, 8), fc.double({ min: 0.1, max: 4, noNaN: true }), fc.boolean(), ({ T, E, seed }, cf, ties) => {
        const logits = ties ? new Float64Array(tiedLogits(T * E, seed)) : randn64(T * E, seed, 2);
        const r = expertChoiceGate(logits, E, { capacity_factor: cf });
        const C = Math.min(T, Math.max(1, Math.floor((cf * T) / E)));
        expect(r.capacity).toBe(C);
        const per = new Int32Array(T);
        for (let e = 0; e < E; e++) {
          const toks = Array.from(r.tokenIndices.subarray(e * C, (e + 1) * C));
          expect(new Set(toks).size).toBe(C);
          for (let c = 1; c < C; c++) expect(toks[c]).toBeGreaterThan(toks[c - 1]);
          const chosen = new Set(toks);
          // Every chosen token beats every unchosen one (higher prob, or equal prob and lower index).
          for (const a of toks) {
            for (let b = 0; b < T; b++) {
              if (chosen.has(b)) continue;
              const pa = r.probs[a * E + e];
              const pb = r.probs[b * E + e];
              expect(pa > pb || (pa === pb && a < b)).toBe(true);
            }
          }
          for (let c = 0; c < C; c++) expect(r.weights[e * C + c]).toBe(r.probs[toks[c] * E + e]);
          for (const t of toks) per[t]++;
          expect(r.plan.counts[e]).toBe(C);
        }
        expect(Array.from(r.expertsPerToken)).toEqual(Array.from(per));
        expect(r.tokensWithoutExpert).toBe(Array.from(per).filter((v) => v === 0).length);
        expect(r.plan.numSlots).toBe(E * C);
      }),
      { numRuns: 120 },
    );
  });

  it('backward matches central finite differences', () => {
    fc.assert(
      fc.property(shapeArb(9, 5), ({ T, E, seed }) => {
        const logits = randn64(T * E, seed, 2);
        const fwd = expertChoiceGate(logits, E, { capacity_factor: 1.5 });
        const g = randn64(E * fwd.capacity, seed + 2);
        const d = expertChoiceBackward(fwd, g);
        const f = (x: Float64Array) => expertChoiceGate(x, E, { capacity_factor: 1.5 }).weights.reduce((a, v, i) => a + v * g[i], 0);
        for (let i = 0; i < T * E; i++) expect(Math.abs(d[i] - centralDiff(f, logits, i))).toBeLessThan(1e-7);
      }),
      { numRuns: 40 },
    );
  });

  it('rejects bad capacities', () => {
    expect(() => expertChoiceGate(new Float32Array(6), 3, { capacity: 3 })).toThrow(RouterError);
    expect(() => expertChoiceGate(new Float32Array(6), 3, { capacity_factor: -1 })).toThrow(/capacity_factor/);
    expect(expertChoiceGate(new Float32Array(6), 3, { capacity: 2 }).capacity).toBe(2);
  });
});
