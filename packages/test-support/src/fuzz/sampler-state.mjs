/** Fuzz target of the multi-domain sampler's saved state (MultiDomainSampler resume). */
import { applyJsonEdits, isA, jsonEditsArb } from './mutators.mjs';

export function samplerStateTargets({ fc, data }) {
  const targets = [];
  const dataTyped = (e) => isA(e, data.DataError);
  // --- sampler state ------------------------------------------------------------------------
  let sources;
  let tok;
  let baseState;
  targets.push({
    name: 'sampler state',
    arb: fc.record({ edits: jsonEditsArb(fc), focus: fc.constantFrom('any', 'config', 'rng', 'domains', 'weights', 'dynamic', 'step') }),
    async setup() {
      tok = data.byteLevelTokenizer();
      sources = [
        { name: 'github', documents: ['def f(x): return x', 'int main() {}', 'fn x() {}', 'print(1)'] },
        { name: 'arxiv', documents: ['We prove that', 'Theorem 1. Let x', 'In this paper'] },
      ];
      const s = new data.MultiDomainSampler({
        sources, tokenizer: tok, seqLen: 8, seed: 3, shuffleBuffer: 2,
        dynamic: { rule: 'sheared_llama', referenceLoss: { github: 1, arxiv: 2 } },
      });
      await s.nextBatch(2);
      s.update({ github: 1.5, arxiv: 2.5 });
      await s.nextBatch(2);
      baseState = JSON.parse(JSON.stringify(s.state()));
      await s.close();
    },
    async run(c) {
      let st;
      if (c.focus === 'any' || !(c.focus in baseState) || typeof baseState[c.focus] !== 'object' || baseState[c.focus] === null) st = applyJsonEdits(baseState, c.edits);
      else st = { ...baseState, [c.focus]: applyJsonEdits(baseState[c.focus], c.edits) };
      const s = data.MultiDomainSampler.resume(st, { sources, tokenizer: tok });
      try {
        for (let i = 0; i < 2; i++) {
          const b = await s.nextBatch(2);
          if (!(b.inputIds instanceof Int32Array)) throw new Error('batch without Int32Array inputIds');
        }
      } finally {
        await s.close();
      }
    },
    allowed: dataTyped,
  });
  return targets;
}
