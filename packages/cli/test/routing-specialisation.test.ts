/** Routing specialisation: mutual information between a token's domain and its experts, per layer. */
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import type { LlamaForCausalLM } from '@llama-moe/llama-model';
import { routingSpecialisation } from '../src/demo/experiment.js';

/** A stand-in model whose layer-l routing for a block is a fixed load vector chosen by the block's first token. */
function fakeModel(loads: Record<number, number[][]>): LlamaForCausalLM {
  return {
    forward(ids: { shape: number[] }) {
      const data = (ids as unknown as { data: Int32Array }).data;
      const T = ids.shape[1]!;
      const B = ids.shape[0]!;
      const L = loads[data[0]!]!.length;
      const records = Array.from({ length: L }, (_, layer) => {
        const E = loads[data[0]!]![layer]!.length;
        const load = new Array<number>(E).fill(0);
        for (let b = 0; b < B; b++) loads[data[b * T]!]![layer]!.forEach((v, e) => (load[e]! += v));
        return { layer, load };
      });
      return { logits: null, auxLoss: null, records };
    },
  } as unknown as LlamaForCausalLM;
}

describe('routingSpecialisation', () => {
  test('disjoint experts per domain give H(domain) bits; identical routing gives 0', () => {
    // Two equally sized domains: layer 0 sends domain a to expert 0 and b to expert 1, layer 1 routes both alike.
    const m = fakeModel({ 1: [[10, 0], [5, 5]], 2: [[0, 10], [5, 5]] });
    const r = routingSpecialisation(m, { a: [Int32Array.of(1, 1)], b: [Int32Array.of(2, 2)] });
    expect(r.mutualInformation[0]).toBeCloseTo(1, 12);
    expect(r.mutualInformation[1]).toBeCloseTo(0, 12);
    expect(r.load[0]).toEqual({ a: [1, 0], b: [0, 1] });
  });

  test('bounded by min(H(domain), log2 E) and never negative; counts add over blocks and batches', () => {
    fc.assert(fc.property(
      fc.array(fc.array(fc.nat({ max: 20 }), { minLength: 3, maxLength: 3 }).filter((r) => r.some((v) => v > 0)), { minLength: 2, maxLength: 4 }),
      fc.integer({ min: 1, max: 3 }),
      (rows, blocks) => {
        const loads: Record<number, number[][]> = {};
        const input: Record<string, Int32Array[]> = {};
        rows.forEach((row, d) => {
          loads[d + 1] = [row];
          input[`d${d}`] = Array.from({ length: blocks }, () => Int32Array.of(d + 1, 0));
        });
        const r = routingSpecialisation(fakeModel(loads), input, 2);
        const mi = r.mutualInformation[0]!;
        expect(mi).toBeGreaterThanOrEqual(-1e-12);
        expect(mi).toBeLessThanOrEqual(Math.log2(3) + 1e-9);
        // Each domain's shares are its own row, normalised (blocks and batching do not change them).
        rows.forEach((row, d) => {
          const n = row.reduce((a, b) => a + b, 0);
          r.load[0]![`d${d}`]!.forEach((v, e) => expect(v).toBeCloseTo(row[e]! / n, 12));
        });
      },
    ));
  });
});
