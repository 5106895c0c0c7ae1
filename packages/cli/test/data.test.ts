/** data prepare on the synthetic corpus → data inspect, in-process. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MANIFEST_NAME, generateCorpus, readArrowTokens, writeCorpus, REDPAJAMA_SET_NAME } from '@llama-moe/data-sampler';
import { loadTokenizer } from '@llama-moe/llama-model/node';
import { cli, listTree, tempDir, tinyModel } from './helpers.js';

let root: string;
let model: string;
let corpusDir: string;
const corpus = generateCorpus({ seed: 5, docsPerDomain: 12, domains: ['c4', 'github', 'arxiv'] });

beforeAll(async () => {
  root = tempDir();
  model = await tinyModel(root);
  corpusDir = path.join(root, 'corpus');
  await writeCorpus(corpusDir, corpus, { docsPerFile: 5 });
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('data prepare', () => {
  test('packs every domain sub-folder into blocks of --seq-len starting documents with BOS', async () => {
    const out = path.join(root, 'packed');
    const r = await cli(['data', 'prepare', '--input', corpusDir, '--tokenizer', path.join(model, 'tokenizer.json'), '--seq-len', '32', '--out', out, '--shuffle-buffer', '1'], { progressIntervalMs: 0 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/wrote .*packed: \d+ blocks of 32 tokens .*tokens\/s/);
    expect(r.stderr).toMatch(/tokenising: /);
    const m = JSON.parse(fs.readFileSync(path.join(out, MANIFEST_NAME), 'utf8'));
    expect(Object.keys(m.domains).sort()).toEqual(['arxiv', 'c4', 'github']);
    const tok = loadTokenizer(model);
    for (const d of corpus.domains) {
      const info = m.domains[d.name];
      expect(info.documents).toBe(d.documents.length);
      const tokens = d.documents.reduce((s, doc) => s + 1 + tok.encode(doc, { addBos: false }).length, 0);
      expect(info.tokens).toBe(tokens);
      expect(info.blocks).toBe(Math.floor(tokens / 32));
    }
    // The first block of a domain (no shuffle) is BOS + the first document's tokens.
    const first = corpus.domains.find((d) => d.name === 'c4')!.documents[0]!;
    const rows = [];
    for await (const row of readArrowTokens(path.join(out, m.domains.c4.files[0]))) rows.push(row.inputIds);
    expect(rows.length).toBe(m.domains.c4.blocks);
    expect(Array.from(rows[0]!)).toEqual([1, ...tok.encode(first, { addBos: false })].slice(0, 32));

    const j = await cli(['data', 'inspect', out, '--json']);
    expect(j.code, j.stderr).toBe(0);
    const rep = JSON.parse(j.stdout);
    expect(rep.seq_len).toBe(32);
    expect(rep.total.blocks).toBe(Object.values(m.domains as Record<string, { blocks: number }>).reduce((s, d) => s + d.blocks, 0));
    expect(rep.domains.map((d: { name: string }) => d.name)).toEqual(['arxiv', 'c4', 'github']);
    expect(rep.weight_presets.uniform.c4).toBeCloseTo(1 / 3, 12);
    expect(rep.weight_presets.llama1.unavailable).toMatch(/not among/);
    const h = await cli(['data', 'inspect', out]);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/github\s+12\s/);
    expect(h.stdout).toContain('weight presets');
  });

  test('--domain-column reads domains from a nested JSONL key; --remainder pad keeps every token', async () => {
    const file = path.join(root, 'mixed.jsonl');
    const lines = corpus.domains.flatMap((d) => d.documents.map((t) => JSON.stringify({ text: t, meta: { redpajama_set_name: REDPAJAMA_SET_NAME[d.name as 'c4'] } })));
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const out = path.join(root, 'by-column');
    const r = await cli(['data', 'prepare', '--input', file, '--domain-column', 'meta.redpajama_set_name', '--tokenizer', model, '--seq-len', '64', '--out', out, '--remainder', 'pad', '--add-eos', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    const rep = JSON.parse((await cli(['data', 'inspect', out, '--json'])).stdout);
    expect(rep.domains.map((d: { name: string }) => d.name)).toEqual(['RedPajamaArXiv', 'RedPajamaC4', 'RedPajamaGithub']);
    expect(rep.add_eos).toBe(true);
    for (const d of rep.domains) expect(d.blocks).toBe(Math.ceil(d.tokens / 64));
  });

  test('loose text files form one domain', async () => {
    const dir = path.join(root, 'loose');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'a.txt'), corpus.domains[0]!.documents.join('\n'));
    const out = path.join(root, 'loose-packed');
    const r = await cli(['data', 'prepare', '--input', path.join(dir, 'a.txt'), '--tokenizer', model, '--seq-len', '16', '--out', out, '--domain', 'web', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(listTree(out)).toEqual([MANIFEST_NAME, 'web', 'web/data-00000.arrow']);
  });
});
