import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { randn64, shapeArb } from '../test/helpers.js';
import {
  RouterError,
  RoutingStatsAccumulator,
  buildDispatch,
  expertChoiceGate,
  cvSquared,
  meanTokenEntropy,
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

  it('per domain: summaries, CV², plain per-layer records and the mutual information between domain and expert', () => {
    const E = 3;
    const acc = new RoutingStatsAccumulator(E);
    // A model forward's per-layer record (no requested / droppedPerExpert fields).
    const rec = (load: number[], importance: number[], tokenEntropy: number, numTokens: number, dropped = 0) => ({ load, importance, tokenEntropy, numTokens, dropped });
    acc.add(rec([4, 0, 0], [2, 0, 0], 0.5, 2), 1, 'code');
    acc.add(rec([0, 2, 2], [0, 1, 1], 1.0, 2, 1), 1, 'prose');
    acc.add(rec([2, 0, 0], [1, 0, 0], 0.2, 1), 1, 'code');
    expect(acc.domains(1)).toEqual(['code', 'prose']);
    expect(acc.domains()).toEqual(['code', 'prose']);
    const all = acc.summary(1)!;
    expect(all).toMatchObject({ layer: 1, domain: null, steps: 3, tokens: 5, load: [6, 2, 2], importance: [3, 1, 1], dropped: 1 });
    expect(all.loadFraction).toEqual([0.6, 0.2, 0.2]);
    expect(all.meanTokenEntropy).toBeCloseTo((0.5 * 2 + 1.0 * 2 + 0.2) / 5, 14);
    expect(all.loadCv2).toBe(cvSquared([6, 2, 2]));
    expect(all.importanceCv2).toBe(cvSquared([3, 1, 1]));
    expect(acc.summary(1, 'code')).toMatchObject({ domain: 'code', steps: 2, tokens: 3, load: [6, 0, 0], loadFraction: [1, 0, 0], loadEntropy: 0 });
    expect(acc.summary(0)).toBeNull();
    expect(acc.summary(1, 'math')).toBeNull();
    // Domains on disjoint experts: I = H(domain) = H(0.6, 0.4) bits.
    expect(acc.mutualInformation(1)).toBeCloseTo(-(0.6 * Math.log2(0.6) + 0.4 * Math.log2(0.4)), 12);
    expect(acc.mutualInformation(0)).toBe(0);
    const same = new RoutingStatsAccumulator(E).add(rec([1, 2, 3], [0, 0, 0], 0, 1), 0, 'a').add(rec([2, 4, 6], [0, 0, 0], 0, 1), 0, 'b');
    expect(same.mutualInformation(0)).toBeCloseTo(0, 14);
    // JSON and merge keep the domains.
    const back = RoutingStatsAccumulator.fromJSON(JSON.parse(JSON.stringify(acc)));
    expect(back.toJSON()).toEqual(acc.toJSON());
    expect(back.mutualInformation(1)).toBe(acc.mutualInformation(1));
    expect(new RoutingStatsAccumulator(E).merge(acc).merge(acc).summary(1, 'prose')!.load).toEqual([0, 4, 4]);
    expect(() => acc.add(rec([1, 2], [0, 0], 0, 1), 0)).toThrow(/stats cover 2 experts but the accumulator was made for 3/);
  });

  it('meanTokenEntropy is −(1/T) Σ p log p over the tokens', () => {
    expect(meanTokenEntropy(new Float32Array([1, 0, 0.5, 0.5]), 2, 2)).toBeCloseTo(Math.log(2) / 2, 7);
    expect(meanTokenEntropy(new Float32Array(0), 0, 3)).toBe(0);
  });
});
