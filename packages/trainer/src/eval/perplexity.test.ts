import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createRng, indices } from '@llama-moe/tensor-core';
import { causalLmLoss } from '@llama-moe/llama-model';
import { evaluatePerplexity } from './perplexity.js';
import { tinyModel } from '../../test/support/fixtures.js';

describe('evaluatePerplexity', () => {
  const model = tinyModel(3);
  it('property: per-domain loss is the mean next-token CE, overall is token-weighted, ppl = exp(loss), batching does not matter', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 2, max: 12 }), fc.integer({ min: 1, max: 5 }), fc.integer(), (na, nb, T, bs, seed) => {
      const rng = createRng(seed);
      const block = () => Int32Array.from({ length: T }, () => rng.int(259));
      const validation = { a: Array.from({ length: na }, block), b: Array.from({ length: nb }, block) };
      const direct = (blocks: Int32Array[]) => blocks.map((b) => causalLmLoss(model.logits(b), indices(b, [1, T])).item());
      const la = direct(validation.a), lb = direct(validation.b);
      const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
      const r = evaluatePerplexity(model, validation, { batchSize: bs });
      expect(r.perDomain.a!.loss).toBeCloseTo(mean(la), 5);
      expect(r.perDomain.b!.loss).toBeCloseTo(mean(lb), 5);
      expect(r.perDomain.a!.tokens).toBe(na * (T - 1));
      expect(r.overall.loss).toBeCloseTo(mean([...la, ...lb]), 5);
      expect(r.overall.ppl).toBeCloseTo(Math.exp(mean([...la, ...lb])), 3);
      expect(r.perDomain.b!.ppl).toBeCloseTo(Math.exp(r.perDomain.b!.loss), 9);
      const one = evaluatePerplexity(model, validation, { batchSize: 1 });
      expect(one.overall.loss).toBeCloseTo(r.overall.loss, 6);
    }), { numRuns: 12 });
  });

  it('a random model sits near the uniform perplexity (vocab 259)', () => {
    const rng = createRng(9);
    const r = evaluatePerplexity(model, { x: [Int32Array.from({ length: 32 }, () => rng.int(259))] });
    expect(r.overall.ppl).toBeGreaterThan(200);
    expect(r.overall.ppl).toBeLessThan(330);
  });
});
