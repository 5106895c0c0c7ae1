import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { generateCorpus, writeCorpus } from './corpus.js';
import { checkPackOptions, encodeDocument, packDocuments } from './pack.js';
import { readJsonl } from './readers/jsonl.js';
import { MultiDomainSampler } from './sampler.js';
import { sourcesFromDir } from './source.js';
import { holdoutValidation } from './split.js';
import { collect, tempDir, tok } from '../test/support/helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir()));
afterAll(async () => cleanup());

test('holdout: the first N blocks per domain; training never sees those documents (property)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 3, max: 40 }), async (n, seqLen) => {
      const docs = Array.from({ length: 30 }, (_, i) => `doc-${i} ${'abc'.repeat(i % 5)}`);
      const { validation, train } = await holdoutValidation({ sources: [{ name: 'd', documents: docs }], tokenizer: tok, seqLen, blocksPerDomain: n });
      const expected = packDocuments(tok, docs, { seqLen }).slice(0, n);
      expect(validation.d.map((b) => Array.from(b))).toEqual(expected.map((b) => Array.from(b.inputIds)));
      // Documents used: the smallest prefix whose tokens reach n * seqLen.
      let used = 0;
      for (let tokens = 0; tokens < n * seqLen; used++) tokens += encodeDocument(tok, docs[used], {}).length;
      expect(train[0].documents).toEqual(docs.slice(used));
    }),
    { numRuns: 30 },
  );
});

test('holdout on files: training sources resume after the held-out prefix, every epoch', async () => {
  const c = generateCorpus({ seed: 1, docsPerDomain: 30, domains: ['book', 'github'] });
  await writeCorpus(join(dir, 'c'), c, { docsPerFile: 8 });
  const sources = await sourcesFromDir(join(dir, 'c'));
  const { validation, train } = await holdoutValidation({ sources, tokenizer: tok, seqLen: 64, blocksPerDomain: 12 });
  expect(validation.book).toHaveLength(12);
  for (const s of train) {
    const all = c.domains.find((d) => d.name === s.name)!.documents;
    const seen: string[] = [];
    for (const f of s.files!) seen.push(...(await collect(readJsonl(f, { start: s.startCursors?.[f] }))).map((r) => r.text));
    // A suffix of the domain's documents, and not all of them.
    expect(seen.length).toBeLessThan(all.length);
    expect(seen).toEqual(all.slice(all.length - seen.length));
  }
  const sampler = new MultiDomainSampler({ sources: train, tokenizer: tok, seqLen: 64 });
  expect((await sampler.nextBatch(4)).domains).toHaveLength(4);
  await expect(holdoutValidation({ sources, tokenizer: tok, seqLen: 64, blocksPerDomain: 100000 })).rejects.toThrow(/domain "book" has only \d+ block/);
});

test('allowFewer: a domain shorter than blocksPerDomain gives every block it has', async () => {
  const docs = Array.from({ length: 5 }, (_, i) => `document ${i} `.repeat(20));
  const seqLen = 32;
  const total = docs.reduce((n, d) => n + encodeDocument(tok, d, checkPackOptions({ seqLen })).length, 0);
  const { validation } = await holdoutValidation({ sources: [{ name: 'd', documents: docs }], tokenizer: tok, seqLen, blocksPerDomain: 1_000_000, allowFewer: true });
  expect(validation.d!.length).toBe(Math.floor(total / seqLen));
  await expect(holdoutValidation({ sources: [{ name: 'd', documents: ['too short'] }], tokenizer: tok, seqLen, blocksPerDomain: 4, allowFewer: true })).rejects.toThrow(/has only 0 block/);
});
