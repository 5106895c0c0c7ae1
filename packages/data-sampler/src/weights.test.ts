import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { DynamicWeights, applyDynamicRule } from './dynamic.js';
import { WeightError } from './errors.js';
import { LLAMA2_7B_REFERENCE_LOSS, SLIMPAJAMA_DOMAINS, WEIGHT_PRESETS, resolveWeights } from './weights.js';

const D = [...SLIMPAJAMA_DOMAINS];

describe('static weights', () => {
  test('presets resolve for the SlimPajama domains and sum to 1', () => {
    for (const p of ['uniform', 'llama1', 'sheared_llama'] as const) {
      const w = resolveWeights(p, D);
      expect(Object.keys(w)).toEqual(D);
      expect(Math.abs(Object.values(w).reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-9);
    }
    expect(resolveWeights('llama1', D).cc).toBe(0.67);
    expect(WEIGHT_PRESETS.sheared_llama.c4).toBe(0.492);
    expect(resolveWeights('uniform', ['a', 'b', 'c']).b).toBeCloseTo(1 / 3, 12);
  });

  test('clear errors naming the domain', () => {
    const err = (f: () => unknown): WeightError => {
      try {
        f();
      } catch (e) {
        return e as WeightError;
      }
      throw new Error('expected a throw');
    };
    const neg = err(() => resolveWeights({ a: 1.2, b: -0.2 }, ['a', 'b']));
    expect(neg).toBeInstanceOf(WeightError);
    expect(neg.domain).toBe('b');
    expect(neg.message).toMatch(/domain "b" has negative weight -0.2/);
    expect(err(() => resolveWeights({ a: NaN, b: 1 }, ['a', 'b'])).message).toMatch(/domain "a" has weight NaN/);
    expect(err(() => resolveWeights({ a: 0.5, b: 0.4 }, ['a', 'b'])).message).toMatch(/sum to 0.9, not 1 .*normalize: true/);
    expect(err(() => resolveWeights({ a: 0.5, zz: 0.5 }, ['a', 'b'])).message).toMatch(/domain "zz" is not among the dataset's domains \(a, b\)/);
    expect(err(() => resolveWeights({ a: 1 }, ['a', 'b'])).message).toMatch(/dataset domain "b" has no weight/);
    expect(err(() => resolveWeights('llama1', ['cc', 'c4'])).message).toMatch(/domain "github" is not among the dataset's domains/);
    expect(err(() => resolveWeights('llama3' as never, ['a'])).message).toMatch(/unknown preset "llama3"/);
    expect(err(() => resolveWeights({ a: 0 }, ['a'])).message).toMatch(/all weights are zero/);
    // Within tolerance is accepted as given; normalize rescales on request.
    expect(resolveWeights({ a: 0.5, b: 0.5 + 5e-7 }, ['a', 'b']).b).toBe(0.5 + 5e-7);
    expect(resolveWeights({ a: 1, b: 3 }, ['a', 'b'], { normalize: true })).toEqual({ a: 0.25, b: 0.75 });
  });
});

const weightsArb = fc
  .array(fc.double({ min: 0.01, max: 1, noNaN: true }), { minLength: D.length, maxLength: D.length })
  .map((xs) => {
    const s = xs.reduce((a, b) => a + b, 0);
    return Object.fromEntries(D.map((d, i) => [d, xs[i] / s]));
  });
const lossArb = fc.array(fc.double({ min: -1.5, max: 1.5, noNaN: true }), { minLength: D.length, maxLength: D.length }).map((xs) => Object.fromEntries(D.map((d, i) => [d, LLAMA2_7B_REFERENCE_LOSS[d] + xs[i]])));

describe('dynamic weights', () => {
  test('sheared_llama matches softmax(log w + eta (L - Lref)) smoothed by c/K', () => {
    const w = resolveWeights('llama1', D);
    const loss = { ...LLAMA2_7B_REFERENCE_LOSS, book: LLAMA2_7B_REFERENCE_LOSS.book + 0.5 };
    const out = applyDynamicRule('sheared_llama', w, loss, LLAMA2_7B_REFERENCE_LOSS, D);
    const z = D.map((d) => w[d] * Math.exp(loss[d] - LLAMA2_7B_REFERENCE_LOSS[d]));
    const s = z.reduce((a, b) => a + b, 0);
    D.forEach((d, i) => expect(out[d]).toBeCloseTo((1 - 1e-4) * (z[i] / s) + 1e-4 / 7, 12));
    // The LLaMA-MoE example from dynamic_selection.py: book / c4 / cc / arxiv lag → they gain.
    const curr = { book: 2.071, wikipedia: 1.572, stackexchange: 1.491, github: 0.705, c4: 2.117, cc: 1.728, arxiv: 1.287 };
    const upd = applyDynamicRule('sheared_llama', w, curr, LLAMA2_7B_REFERENCE_LOSS, D);
    expect(upd.book).toBeGreaterThan(w.book);
    expect(upd.wikipedia).toBeLessThan(w.wikipedia);
  });

  test('both rules move weight toward domains whose loss exceeds the reference (property)', () => {
    fc.assert(
      fc.property(weightsArb, lossArb, fc.constantFrom('sheared_llama', 'llama_moe') as fc.Arbitrary<'sheared_llama' | 'llama_moe'>, (w, loss, rule) => {
        const out = applyDynamicRule(rule, w, loss, LLAMA2_7B_REFERENCE_LOSS, D, 1, 0);
        expect(Math.abs(Object.values(out).reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-12);
        const excess = (d: string): number => loss[d] - LLAMA2_7B_REFERENCE_LOSS[d];
        const effective = (d: string): number => (rule === 'llama_moe' ? Math.max(0, excess(d)) : excess(d));
        // The ratio new/old is monotone in the (effective) excess loss: the most-lagging domain gains most.
        const ratio = (d: string): number => out[d] / w[d];
        for (const a of D)
          for (const b of D) {
            if (effective(a) > effective(b) + 1e-9) expect(ratio(a)).toBeGreaterThan(ratio(b) * (1 - 1e-12));
          }
        const top = D.reduce((a, b) => (effective(a) >= effective(b) ? a : b));
        if (effective(top) > Math.min(...D.map(effective)) + 1e-9) expect(out[top]).toBeGreaterThan(w[top]);
      }),
    );
  });

  test('llama_moe leaves weights unchanged when every domain is at or below its reference', () => {
    const w = resolveWeights('sheared_llama', D);
    const loss = Object.fromEntries(D.map((d) => [d, LLAMA2_7B_REFERENCE_LOSS[d] - 0.1]));
    const out = applyDynamicRule('llama_moe', w, loss, LLAMA2_7B_REFERENCE_LOSS, D);
    D.forEach((d) => expect(out[d]).toBeCloseTo(w[d], 12));
  });

  test('updater: state JSON round trip, missing losses and references named', () => {
    const dw = new DynamicWeights('uniform', D, { rule: 'sheared_llama' });
    dw.update({ ...LLAMA2_7B_REFERENCE_LOSS, github: 2 });
    const copy = DynamicWeights.fromState(JSON.parse(JSON.stringify(dw.state())));
    const l2 = { ...LLAMA2_7B_REFERENCE_LOSS, arxiv: 3 };
    expect(copy.update(l2)).toEqual(dw.update(l2));
    expect(copy.updates).toBe(2);
    expect(() => dw.update({ ...LLAMA2_7B_REFERENCE_LOSS, cc: NaN })).toThrow(/domain "cc" has loss NaN/);
    const { book: _b, ...partial } = LLAMA2_7B_REFERENCE_LOSS;
    expect(() => dw.update(partial)).toThrow(/domain "book" has loss undefined/);
    expect(() => new DynamicWeights({ x: 1 }, ['x'], { rule: 'llama_moe' })).toThrow(/no reference loss for domain "x"/);
    expect(() => new DynamicWeights({ x: 1 }, ['x'], { rule: 'doremi' as never })).toThrow(/unknown rule "doremi"/);
  });
});
