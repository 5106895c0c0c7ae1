import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GateTapOutput } from './model-loader.js';
import { RoutingTrace, displayPiece } from './routing-trace.js';

/** A record as MoeFeedForward writes it, for tokens whose choices are `choice[t]` (k distinct experts each). */
function record(layer: number, E: number, choice: number[][], weights: number[][]) {
  const load = new Array<number>(E).fill(0);
  const importance = new Array<number>(E).fill(0);
  choice.forEach((c, t) => c.forEach((e, j) => { load[e]!++; importance[e]! += weights[t]![j]!; }));
  return { layer, load, importance, topkIndices: choice.flat(), dropped: 0, tokenEntropy: 0, numTokens: choice.length };
}

const shape = fc.record({ L: fc.integer({ min: 1, max: 4 }), E: fc.integer({ min: 1, max: 9 }), P: fc.integer({ min: 1, max: 7 }), N: fc.integer({ min: 0, max: 6 }), seed: fc.integer() })
  .chain((s) => fc.record({ ...Object.fromEntries(Object.entries(s).map(([k, v]) => [k, fc.constant(v)])), k: fc.integer({ min: 1, max: s.E }) }) as fc.Arbitrary<typeof s & { k: number }>);

describe('RoutingTrace', () => {
  it('fills every row of every layer from prefill + decode records, in generateSteps order, and sums the load', () => {
    fc.assert(fc.property(shape, fc.boolean(), ({ L, E, P, N, k, seed }, withTaps) => {
      let s = seed >>> 0;
      const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
      /** [position][layer] → k distinct experts and their weights */
      const truth = Array.from({ length: P + N }, () => Array.from({ length: L }, () => {
        const perm = Array.from({ length: E }, (_, i) => i).sort(() => rand() - 0.5);
        const w = Array.from({ length: k }, () => 0.05 + rand() * 0.9);
        return { topk: perm.slice(0, k), w };
      }));
      const trace = new RoutingTrace(L, E, k);
      for (let p = 0; p < P; p++) trace.addToken(p, `t${p}`, 'prompt');
      const forward = (first: number, T: number) => {
        const recs = Array.from({ length: L }, (_, l) => record(l, E, Array.from({ length: T }, (_, t) => truth[first + t]![l]!.topk), Array.from({ length: T }, (_, t) => truth[first + t]![l]!.w)));
        const taps: GateTapOutput[] | undefined = withTaps ? Array.from({ length: L }, (_, l) => ({
          T, topkIndices: Int32Array.from(recs[l]!.topkIndices),
          scores: Float32Array.from(Array.from({ length: T }, (_, t) => truth[first + t]![l]!.w).flat()),
          probs: new Float32Array(T * E).fill(1 / E),
        })) : undefined;
        return trace.ingest(recs, first, taps);
      };
      expect(forward(0, P)).toHaveLength(P);
      for (let g = 0; g < N; g++) {
        trace.addToken(100 + g, `g${g}`, 'generated');
        expect(forward(P + g, 1).map((r) => r.position)).toEqual([P + g]);
      }
      expect(trace.rows).toHaveLength(P + N);
      expect(trace.steps).toBe(1 + N);
      trace.rows.forEach((row, p) => {
        expect(row.position).toBe(p);
        row.layers.forEach((lr, l) => {
          expect(lr).not.toBeNull();
          expect(lr!.topk).toEqual(truth[p]![l]!.topk);
          if (withTaps) {
            expect(lr!.weights).toEqual(truth[p]![l]!.w.map(Math.fround));
            expect(lr!.probs).toHaveLength(E);
          } else {
            expect(lr!.probs).toBeNull();
            // One-token steps know the weights from importance; the prefill only when P = 1.
            if (p >= P || P === 1) lr!.weights.forEach((w, j) => expect(w).toBeCloseTo(truth[p]![l]!.w[j]!, 12));
            else expect(lr!.weights.every(Number.isNaN)).toBe(true);
          }
        });
      });
      for (let l = 0; l < L; l++) {
        expect(trace.load[l]!.reduce((a, b) => a + b, 0)).toBe((P + N) * k);
        const share = trace.loadShare(l);
        expect(share.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
        share.forEach((v, e) => expect(v).toBeCloseTo(trace.load[l]![e]! / ((P + N) * k), 12));
      }
    }), { numRuns: 150 });
  });

  it('ignores records of layers outside the model and rows not added yet', () => {
    const trace = new RoutingTrace(2, 3, 1);
    trace.addToken(5, 'a', 'prompt');
    const rows = trace.ingest([record(7, 3, [[0]], [[1]]), record(0, 3, [[2], [1]], [[1], [1]])], 0);
    expect(rows).toHaveLength(1);
    expect(trace.rows[0]!.layers[0]!.topk).toEqual([2]);
    expect(trace.rows[0]!.layers[1]).toBeNull();
    expect(trace.loadShare(1)).toEqual([0, 0, 0]);
  });
});

describe('displayPiece', () => {
  it('shows word-start markers and control characters visibly', () => {
    expect(displayPiece('▁the', 5)).toBe('␣the');
    expect(displayPiece('Ġthe', 5)).toBe('␣the');
    expect(displayPiece('<0x0A>', 13)).toBe('<0x0A>');
    expect(displayPiece('a\nb', 1)).toBe('a\\x0ab');
    expect(displayPiece(undefined, 42)).toBe('#42');
  });
});
