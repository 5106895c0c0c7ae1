import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { corpusBytes, generateCorpus, writeCorpus } from './corpus.js';
import { readJsonl } from './readers/jsonl.js';
import { readText } from './readers/text.js';
import { sourcesFromDir } from './source.js';
import { collect, tempDir } from '../test/support/helpers.js';
import { SLIMPAJAMA_DOMAINS } from './weights.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir()));
afterAll(async () => cleanup());

/** Add-one smoothed byte-bigram model: a stand-in for "a tiny LM" to check the text is learnable. */
function bigram(docs: string[]): (d: string) => number {
  const counts = new Float64Array(257 * 256).fill(1);
  const totals = new Float64Array(257).fill(256);
  for (const d of docs) {
    const b = Buffer.from(d);
    let prev = 256;
    for (const x of b) {
      counts[prev * 256 + x]++;
      totals[prev]++;
      prev = x;
    }
  }
  // Mean negative log-likelihood in nats per byte.
  return (d: string): number => {
    const b = Buffer.from(d);
    let nll = 0;
    let prev = 256;
    for (const x of b) {
      nll -= Math.log(counts[prev * 256 + x] / totals[prev]);
      prev = x;
    }
    return nll / Math.max(1, b.length);
  };
}

describe('generateCorpus', () => {
  test('deterministic per seed, all seven domains, size knob', () => {
    const a = generateCorpus({ seed: 42, docsPerDomain: 30 });
    expect(a).toEqual(generateCorpus({ seed: 42, docsPerDomain: 30 }));
    expect(a.domains.map((d) => d.name)).toEqual([...SLIMPAJAMA_DOMAINS]);
    expect(a.domains.every((d) => d.documents.length === 30)).toBe(true);
    expect(generateCorpus({ seed: 43, docsPerDomain: 30 })).not.toEqual(a);
    // Changing the domain list does not change another domain's documents.
    expect(generateCorpus({ seed: 42, docsPerDomain: 30, domains: ['book'] }).domains[0]).toEqual(a.domains.find((d) => d.name === 'book'));
    const sized = generateCorpus({ seed: 1, targetBytes: 1.5e6 });
    const bytes = corpusBytes(sized);
    expect(bytes).toBeGreaterThanOrEqual(1.5e6);
    expect(bytes).toBeLessThan(1.52e6);
    expect(() => generateCorpus({ seed: 1, domains: ['reddit' as never] })).toThrow(/unknown domain "reddit"/);
  });

  test('domains look like their namesakes', () => {
    const c = Object.fromEntries(generateCorpus({ seed: 7, docsPerDomain: 40 }).domains.map((d) => [d.name, d.documents]));
    const all = (d: string, re: RegExp): boolean => c[d].every((t: string) => re.test(t));
    expect(all('github', /(def \w+\(|function \w+\()/)).toBe(true);
    expect(all('arxiv', /\\section\{.*\$[^$]+\$/s)).toBe(true);
    expect(all('stackexchange', /^Q: How do I .*\n\nA: /s)).toBe(true);
    expect(all('wikipedia', /== \w+ ==/)).toBe(true);
    expect(all('book', /^Chapter [IVX]+\n\n/)).toBe(true);
    expect(all('cc', /All rights reserved\.$/)).toBe(true);
    expect(all('c4', /^[A-Z][^\n]+[.!?]$/)).toBe(true);
  });

  test('learnable and domain-specific: a bigram model beats uniform by far and fits its own domain best', () => {
    const c = generateCorpus({ seed: 9, docsPerDomain: 260 });
    const models = c.domains.map((d) => bigram(d.documents.slice(0, 200)));
    const held = c.domains.map((d) => d.documents.slice(200));
    const ce = (m: number, h: number): number => held[h].reduce((s, d) => s + models[m](d), 0) / held[h].length;
    for (let h = 0; h < held.length; h++) {
      const own = ce(h, h);
      // Uniform over bytes is ln 256 ≈ 5.55 nats; templated text should be far below.
      expect(own).toBeLessThan(0.5 * Math.log(256));
      for (let m = 0; m < models.length; m++) if (m !== h) expect(own).toBeLessThan(ce(m, h));
    }
  });
});

describe('writeCorpus', () => {
  test('one sub-folder per domain, SlimPajama-style JSONL read back by sourcesFromDir', async () => {
    const c = generateCorpus({ seed: 2, docsPerDomain: 25, domains: ['github', 'wikipedia'] });
    const files = await writeCorpus(join(dir, 'jsonl'), c, { docsPerFile: 10 });
    expect(files.github.map((f) => f.split('/').slice(-2).join('/'))).toEqual(['github/github-00000.jsonl', 'github/github-00001.jsonl', 'github/github-00002.jsonl']);
    const first = JSON.parse((await readFile(files.github[0], 'utf8')).split('\n')[0]);
    expect(first.meta.redpajama_set_name).toBe('RedPajamaGithub');
    const sources = await sourcesFromDir(join(dir, 'jsonl'));
    expect(sources.map((s) => s.name)).toEqual(['github', 'wikipedia']);
    for (const s of sources) {
      const texts: string[] = [];
      for (const f of s.files!) texts.push(...(await collect(readJsonl(f))).map((r) => r.text));
      expect(texts).toEqual(c.domains.find((d) => d.name === s.name)!.documents);
    }
    await writeCorpus(join(dir, 'txt'), c, { format: 'text', docsPerFile: 100 });
    const paras = await collect(readText(join(dir, 'txt', 'github', 'github-00000.txt'), { textMode: 'paragraph' }));
    expect(paras.length).toBe(25);
    await expect(sourcesFromDir(join(dir, 'nope'))).rejects.toThrow(/cannot list data folder/);
  });
});
