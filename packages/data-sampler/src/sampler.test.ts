import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateCorpus, writeCorpus } from './corpus.js';
import { DataError, WeightError } from './errors.js';
import { MultiDomainSampler, type SamplerOptions } from './sampler.js';
import { sourcesFromDir, type DomainSource } from './source.js';
import { collect, tempDir, tok } from '../test/support/helpers.js';
import { LLAMA2_7B_REFERENCE_LOSS, SLIMPAJAMA_DOMAINS, resolveWeights } from './weights.js';
import { readJsonl } from './readers/jsonl.js';

let dir: string;
let cleanup: () => Promise<void>;
let fileSources: DomainSource[];
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  // Three domains on disk, several small files each, so cursors cross file boundaries. Documents
  // are short relative to seqLen so streams keep pulling documents (and shuffle-buffer state matters).
  const corpus = generateCorpus({ seed: 3, docsPerDomain: 23, domains: ['github', 'arxiv', 'book'] });
  for (const d of corpus.domains) d.documents = d.documents.map((t, i) => t.slice(0, 4 + ((i * 13) % 50)));
  await writeCorpus(join(dir, 'corpus'), corpus, { docsPerFile: 7 });
  fileSources = await sourcesFromDir(join(dir, 'corpus'));
});
afterAll(async () => cleanup());

const memSources = (): DomainSource[] => {
  const c = generateCorpus({ seed: 5, docsPerDomain: 9, domains: ['cc', 'wikipedia', 'stackexchange', 'c4'] });
  return c.domains.map((d) => ({ name: d.name, documents: d.documents.map((t, i) => t.slice(0, 3 + ((i * 17) % 60))) }));
};

/** Deterministic fake per-domain losses for step s. */
const lossesAt = (domains: string[], s: number): Record<string, number> =>
  Object.fromEntries(domains.map((d, i) => [d, (LLAMA2_7B_REFERENCE_LOSS[d] ?? 1) + Math.sin(s * 1.7 + i) * 0.8]));

type Run = { ids: number[][]; domains: string[][]; masks: number[][] };

async function drive(s: MultiDomainSampler, from: number, to: number, batch: number, updateEvery: number, run: Run): Promise<void> {
  for (let step = from; step < to; step++) {
    if (updateEvery > 0 && step > 0 && step % updateEvery === 0) s.update(lossesAt(s.domains, step));
    const b = await s.nextBatch(batch);
    run.ids.push(Array.from(b.inputIds));
    run.domains.push(b.domains);
    run.masks.push(b.lossMask ? Array.from(b.lossMask) : []);
  }
}

describe('MultiDomainSampler resume', () => {
  const scenario = fc.record({
    seed: fc.integer({ min: 0, max: 1e6 }),
    steps: fc.integer({ min: 1, max: 20 }),
    cutFrac: fc.double({ min: 0, max: 1, noNaN: true }),
    batch: fc.integer({ min: 1, max: 6 }),
    seqLen: fc.integer({ min: 1, max: 97 }),
    shuffleBuffer: fc.integer({ min: 1, max: 12 }),
    remainder: fc.constantFrom('drop', 'pad', 'keep') as fc.Arbitrary<'drop' | 'pad' | 'keep'>,
    dynamic: fc.constantFrom(null, 'sheared_llama', 'llama_moe') as fc.Arbitrary<null | 'sheared_llama' | 'llama_moe'>,
    updateEvery: fc.integer({ min: 1, max: 4 }),
    onDisk: fc.boolean(),
  });

  test('cut anywhere, JSON round trip, resume: identical to an uninterrupted run (static and dynamic weights)', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        const sources = sc.onDisk ? fileSources : memSources();
        const names = sources.map((s) => s.name);
        const opts: SamplerOptions = {
          sources,
          tokenizer: tok,
          seqLen: sc.seqLen,
          seed: sc.seed,
          weights: Object.fromEntries(names.map((n, i) => [n, (i + 1) / ((names.length * (names.length + 1)) / 2)])),
          remainder: sc.remainder,
          shuffleBuffer: sc.shuffleBuffer,
          dynamic: sc.dynamic ? { rule: sc.dynamic, referenceLoss: Object.fromEntries(names.map((n) => [n, LLAMA2_7B_REFERENCE_LOSS[n] ?? 1])) } : undefined,
        };
        const every = sc.dynamic ? sc.updateEvery : 0;
        const whole: Run = { ids: [], domains: [], masks: [] };
        const a = new MultiDomainSampler(opts);
        await drive(a, 0, sc.steps, sc.batch, every, whole);
        await a.close();

        const cut = Math.floor(sc.cutFrac * sc.steps);
        const parts: Run = { ids: [], domains: [], masks: [] };
        const b = new MultiDomainSampler(opts);
        await drive(b, 0, cut, sc.batch, every, parts);
        const saved = JSON.parse(JSON.stringify(b.state()));
        await b.close();
        const c = MultiDomainSampler.resume(saved, { sources, tokenizer: tok });
        expect(c.steps).toBe(cut);
        await drive(c, cut, sc.steps, sc.batch, every, parts);
        await c.close();
        expect(parts).toEqual(whole);
        if (sc.dynamic) expect(c.weights).toEqual(a.weights);
      }),
      { numRuns: 60 },
    );
  });

  test('a seed fixes the stream; another seed changes it', async () => {
    const run = async (seed: number): Promise<number[]> => {
      const s = new MultiDomainSampler({ sources: memSources(), tokenizer: tok, seqLen: 16, seed });
      const b = await s.nextBatch(8);
      return Array.from(b.inputIds);
    };
    expect(await run(1)).toEqual(await run(1));
    expect(await run(1)).not.toEqual(await run(2));
  });

  test('resume refuses mismatched sources or tokenizer', async () => {
    const s = new MultiDomainSampler({ sources: memSources(), tokenizer: tok, seqLen: 8 });
    await s.nextBatch(2);
    const st = s.state();
    expect(() => MultiDomainSampler.resume(st, { sources: memSources().slice(1), tokenizer: tok })).toThrow(/state has domains \[cc, wikipedia, stackexchange, c4\]/);
    const other = { ...tok, hash: 'other-tokenizer' };
    expect(() => MultiDomainSampler.resume(st, { sources: memSources(), tokenizer: other })).toThrow(/tokenizer fingerprint other-tokenizer differs/);
    const fewer = memSources();
    fewer[0] = { ...fewer[0], documents: fewer[0].documents!.slice(1) };
    expect(() => MultiDomainSampler.resume(st, { sources: fewer, tokenizer: tok })).toThrow(/domain "cc" files differ/);
  });
});

describe('MultiDomainSampler sampling', () => {
  test('domain frequencies converge to the weights (chi-square, 20k draws, fixed seed)', async () => {
    const sources: DomainSource[] = SLIMPAJAMA_DOMAINS.map((d) => ({ name: d, documents: [`${d} one`, `${d} two two`, `${d} three`] }));
    const s = new MultiDomainSampler({ sources, tokenizer: tok, seqLen: 4, seed: 11, weights: 'llama1', shuffleBuffer: 2 });
    const counts: Record<string, number> = Object.fromEntries(SLIMPAJAMA_DOMAINS.map((d) => [d, 0]));
    const N = 20000;
    for (let i = 0; i < N / 500; i++) for (const d of (await s.nextBatch(500)).domains) counts[d]++;
    const w = resolveWeights('llama1', [...SLIMPAJAMA_DOMAINS]);
    let chi2 = 0;
    for (const d of SLIMPAJAMA_DOMAINS) chi2 += (counts[d] - N * w[d]) ** 2 / (N * w[d]);
    // 6 degrees of freedom: P(chi2 > 22.46) = 0.001.
    expect(chi2).toBeLessThan(22.46);
    // Blocks really come from the chosen domain.
    const b = await s.nextBatch(50);
    for (let r = 0; r < 50; r++) {
      const text = tok.decode(b.inputIds.subarray(r * 4, r * 4 + 4));
      expect(`${b.domains[r]} one${b.domains[r]} two two${b.domains[r]} three`.repeat(3)).toContain(text.replace(/\u0001/g, ''));
    }
  });

  test('dynamic update shifts the sampled mix toward the lagging domain', async () => {
    const sources: DomainSource[] = ['a', 'b'].map((d) => ({ name: d, documents: [`${d}${d}${d}`] }));
    const s = new MultiDomainSampler({ sources, tokenizer: tok, seqLen: 2, seed: 4, dynamic: { rule: 'sheared_llama', referenceLoss: { a: 1, b: 1 } } });
    const frac = async (): Promise<number> => (await s.nextBatch(4000)).domains.filter((d) => d === 'b').length / 4000;
    const before = await frac();
    s.update({ a: 1, b: 2 });
    const after = await frac();
    expect(before).toBeGreaterThan(0.45);
    expect(before).toBeLessThan(0.55);
    // softmax(log .5 + [0, 1]) → b ≈ 0.731
    expect(after).toBeGreaterThan(0.7);
    expect(after).toBeLessThan(0.76);
    expect(() => new MultiDomainSampler({ sources, tokenizer: tok, seqLen: 2 }).update({ a: 1, b: 1 })).toThrow(/static weights/);
  });

  test('batches: [B, T] layout, padded remainders masked, domains loop over epochs', async () => {
    const sources: DomainSource[] = [{ name: 'tiny', documents: ['abcdefg', 'xyz'] }];
    const s = new MultiDomainSampler({ sources, tokenizer: tok, seqLen: 5, remainder: 'pad', padId: 0, shuffleBuffer: 1, shuffleFiles: false });
    // Stream per epoch: [BOS a b c d e f g BOS x y z] = 12 tokens → blocks of 5, 5, and 2 padded.
    const b = await s.nextBatch(6);
    expect(b.inputIds.length).toBe(30);
    const rows = Array.from({ length: 6 }, (_, r) => Array.from(b.inputIds.subarray(r * 5, r * 5 + 5)));
    const m = Array.from({ length: 6 }, (_, r) => Array.from(b.lossMask!.subarray(r * 5, r * 5 + 5)));
    const e = (t: string): number[] => tok.encode(t);
    expect(rows[0]).toEqual([1, ...e('abcd')]);
    expect(rows[1]).toEqual([...e('efg'), 1, ...e('x')]);
    expect(rows[2]).toEqual([...e('yz'), 0, 0, 0]);
    expect(m[2]).toEqual([1, 1, 0, 0, 0]);
    expect(rows[3]).toEqual(rows[0]);
    expect(m[0]).toEqual([1, 1, 1, 1, 1]);
    expect(s.stats().tiny.epoch).toBe(2);
  });

  test('keep remainder: short rows padded in the batch and masked', async () => {
    const s = new MultiDomainSampler({ sources: [{ name: 'k', documents: ['abcdef'] }], tokenizer: tok, seqLen: 4, remainder: 'keep', padId: 7 });
    const b = await s.nextBatch(2);
    expect(Array.from(b.inputIds.subarray(4))).toEqual([...tok.encode('def'), 7]);
    expect(Array.from(b.lossMask!.subarray(4))).toEqual([1, 1, 1, 0]);
  });

  test('empty domains and bad options fail with the domain named', async () => {
    expect(() => new MultiDomainSampler({ sources: [{ name: 'void', files: [] }], tokenizer: tok, seqLen: 4 })).toThrow(/domain "void" is empty/);
    const blank = join(dir, 'blank.jsonl');
    await writeFile(blank, '\n\n   \n');
    const s = new MultiDomainSampler({ sources: [{ name: 'ok', documents: ['hello'] }, { name: 'hollow', files: [blank] }], tokenizer: tok, seqLen: 2 });
    const err = await s.nextBatch(64).catch((x) => x);
    expect(err).toBeInstanceOf(WeightError);
    expect(err.domain).toBe('hollow');
    expect(err.message).toMatch(/domain "hollow" is empty/);
    const short = new MultiDomainSampler({ sources: [{ name: 'short', documents: ['ab'] }], tokenizer: tok, seqLen: 64 });
    await expect(short.nextBatch(1)).rejects.toThrow(/domain "short" has fewer than seqLen=64 tokens/);
    expect(() => new MultiDomainSampler({ sources: [{ name: 'a', documents: ['x'] }], tokenizer: tok, seqLen: 4, weights: { a: -1 } })).toThrow(/domain "a" has negative weight/);
    expect(() => new MultiDomainSampler({ sources: [{ name: 'a', documents: ['x'] }], seqLen: 4 })).toThrow(DataError);
    const s2 = new MultiDomainSampler({ sources: [{ name: 'a', documents: ['xyz'] }], tokenizer: tok, seqLen: 2 });
    const p = s2.nextBatch(1);
    await expect(s2.nextBatch(1)).rejects.toThrow(/still running/);
    await p;
  });

  test('file sources: every document of a pass is seen exactly once per epoch', async () => {
    const docs: string[] = [];
    for (const f of fileSources.find((s) => s.name === 'arxiv')!.files!) for (const r of await collect(readJsonl(f))) docs.push(r.text);
    const s = new MultiDomainSampler({ sources: [fileSources.find((x) => x.name === 'arxiv')!], tokenizer: tok, seqLen: 1, seed: 9, shuffleBuffer: 5 });
    const total = docs.reduce((n, d) => n + tok.encode(d).length + 1, 0);
    const b = await s.nextBatch(total);
    // seqLen 1: the batch is the epoch's token stream; split on BOS to recover the documents.
    const text = tok.decode(Array.from(b.inputIds).map((x) => (x === 1 ? 3 + 0x1e : x)));
    const seen = text.split('\u001e').slice(1);
    expect([...seen].sort()).toEqual([...docs].sort());
    expect(seen).not.toEqual(docs); // shuffled
  });
});
