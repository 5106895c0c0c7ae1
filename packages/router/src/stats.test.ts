import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { randn64, shapeArb } from '../test/helpers.js';
import {
  RouterError,
  RoutingStatsAccumulator,
  buildDispatch,
  expertChoiceGate,
  mixtralGate,
  routingStats,
  switchGate,
} from './index.js';

describe('routingStats', () => {
  it('from a gate result: loads count selections, importance sums scores, histograms add up', () => {
    fc.assert(
      fc.property(shapeArb(20, 8), ({ T, E, k, seed }) => {
        const logits = randn64(T * E, seed, 2);
        const g = mixtralGate(logits, E, { num_experts_per_tok: k });
        const s = routingStats(g, E, { logits });
        const load = new Int32Array(E);
        const imp = new Float64Array(E);
        for (let i = 0; i < T * k; i++) {
          load[g.topkIndices[i]]++;
          imp[g.topkIndices[i]] += g.topkScores[i];
        }
        expect(Array.from(s.load)).toEqual(Array.from(load));
        for (let e = 0; e < E; e++) expect(s.importance[e]).toBeCloseTo(imp[e], 12);
        expect(s.selectionHistogram.reduce((a, b) => a + b, 0)).toBe(T * k);
        for (let j = 0; j < k; j++) {
          let row = 0;
          for (let e = 0; e < E; e++) row += s.selectionHistogram[j * E + e];
          expect(row).toBe(T);
        }
        expect(Array.from(s.expertsPerToken)).toEqual([...new Array(k).fill(0), T]);
        let h = 0;
        for (let t = 0; t < T; t++) for (let e = 0; e < E; e++) h -= g.probs[t * E + e] > 0 ? g.probs[t * E + e] * Math.log(g.probs[t * E + e]) : 0;
        expect(s.tokenEntropy!).toBeCloseTo(h / T, 10);
        expect(routingStats(g, E, { probs: g.probs }).tokenEntropy!).toBeCloseTo(h / T, 10);
        expect(s.loadEntropy).toBeLessThanOrEqual(Math.log(E) + 1e-12);
        expect(s.dropped).toBe(0);
      }),
      { numRuns: 60 },
    );
  });

  it('from a plan with capacity: load after dropping, requested before, dropped tokens counted', () => {
    fc.assert(
      fc.property(shapeArb(40, 6), ({ T, E, seed }) => {
        const logits = randn64(T * E, seed, 2);
        const g = switchGate(logits, E, { capacity_factor: 0.75 });
        const s = routingStats(g.plan, E);
        expect(s.tokenEntropy).toBeNull();
        expect(s.dropped).toBe(g.droppedTokens);
        expect(s.load.reduce((a, b) => a + b, 0)).toBe(T - g.droppedTokens);
        expect(Array.from(s.requested)).toEqual(Array.from(g.tokensPerExpert));
        expect(s.expertsPerToken[0] ?? 0).toBe(g.droppedTokens);
        expect(s.selectionHistogram.reduce((a, b) => a + b, 0)).toBe(T);
      }),
      { numRuns: 60 },
    );
    const ec = expertChoiceGate(randn64(12 * 3, 1), 3, { capacity: 4 });
    const s = routingStats(ec.plan, 3);
    expect(Array.from(s.load)).toEqual([4, 4, 4]);
    expect(s.selectionHistogram.length).toBe(0);
    expect(s.expertsPerToken.reduce((a, b) => a + b, 0)).toBe(12);
    expect(() => routingStats(ec.plan, 4)).toThrow(RouterError);
  });
});

describe('RoutingStatsAccumulator', () => {
  it('sums steps per layer and round-trips through plain JSON', () => {
    const E = 4;
    const acc = new RoutingStatsAccumulator(E);
    const parts = new RoutingStatsAccumulator(E);
    for (let step = 0; step < 3; step++) {
      for (let layer = 0; layer < 2; layer++) {
        const logits = randn64(10 * E, 100 * step + layer, 2);
        const g = mixtralGate(logits, E);
        const st = routingStats(buildDispatch(g.topkIndices, g.topkScores, E, 2, { capacity: 4 }), E, { logits });
        acc.add(st, layer);
        if (step === 0) parts.add(st, layer);
      }
    }
    const json = acc.toJSON();
    expect(json.layers.map((l) => l.layer)).toEqual([0, 1]);
    for (const l of json.layers) {
      expect(l.steps).toBe(3);
      expect(l.tokens).toBe(30);
      expect(l.load.reduce((a, b) => a + b, 0) + l.dropped).toBe(60);
      expect(l.loadFraction.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect(l.meanTokenEntropy).not.toBeNull();
    }
    const text = JSON.stringify(acc);
    const back = RoutingStatsAccumulator.fromJSON(JSON.parse(text));
    expect(back.toJSON()).toEqual(json);
    expect(back.loadHeatmap()).toEqual(json.layers.map((l) => l.loadFraction));
    const merged = new RoutingStatsAccumulator(E).merge(parts).merge(parts);
    expect(merged.toJSON().layers[0].steps).toBe(2);
    acc.reset();
    expect(acc.layers()).toEqual([]);
    expect(() => RoutingStatsAccumulator.fromJSON({ version: 2 } as never)).toThrow(RouterError);
  });
});
