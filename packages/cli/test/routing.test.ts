/** `llama-moe routing`: per-layer, per-domain routing statistics of an MoE model on a packed dataset. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateCorpus, writeCorpus } from '@llama-moe/data-sampler';
import { cli, tempDir, tinyModel } from './helpers.js';

let root: string, model: string, moe: string, packed: string, manifest: { seq_len: number; domains: Record<string, { blocks: number }> };

beforeAll(async () => {
  root = tempDir();
  model = await tinyModel(root);
  const corpus = path.join(root, 'corpus');
  await writeCorpus(corpus, generateCorpus({ seed: 3, docsPerDomain: 10, domains: ['wikipedia', 'github', 'arxiv'] }));
  packed = path.join(root, 'packed');
  expect((await cli(['data', 'prepare', '--input', corpus, '--tokenizer', model, '--seq-len', '32', '--out', packed, '--quiet'])).code).toBe(0);
  manifest = JSON.parse(fs.readFileSync(path.join(packed, 'llama_moe_dataset.json'), 'utf8'));
  moe = path.join(root, 'moe');
  expect((await cli(['split', '--model', model, '--out', moe, '--experts', '4', '--top-k', '2', '--method', 'random', '--quiet'])).code).toBe(0);
}, 120_000);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('routing', () => {
  test('--json: per layer and domain, load over every token of the split, entropy, top-k overlap', async () => {
    const r = await cli(['routing', '--model', moe, '--data', packed, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.experts).toBe(4);
    expect(j.topK).toBe(2);
    expect(j.layers.map((l: { layer: number }) => l.layer)).toEqual([0, 1]);
    for (const d of j.domains) expect(d.tokens).toBe(manifest.domains[d.name]!.blocks * manifest.seq_len);
    for (const L of j.layers) {
      for (const [name, s] of Object.entries(L.domains) as [string, { counts: number[]; load: number[]; entropy: number; dropped: number; tokens: number }][]) {
        expect(s.counts.reduce((a, b) => a + b, 0)).toBe(s.tokens * 2);
        expect(s.load.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
        expect(s.entropy).toBeGreaterThan(0);
        expect(s.entropy).toBeLessThanOrEqual(Math.log(4) + 1e-9);
        expect(s.dropped).toBe(0);
        expect(L.topkOverlap[name][name]).toBe(1);
        for (const other of Object.keys(L.domains)) expect(L.topkOverlap[name][other]).toBe(L.topkOverlap[other][name]);
      }
    }
  });

  test('--dense and --out: the most-active-expert shares sum to 1; the HTML page is self-contained', async () => {
    const out = path.join(root, 'report', 'routing.html');
    const r = await cli(['routing', '--model', moe, '--data', packed, '--dense', '--max-blocks', '3', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^layer 0: load per expert/m);
    expect(r.stdout).toMatch(/top-2 overlap: arxiv\/github \d\.\d\d/);
    expect(r.stdout).toMatch(/^\s+dense\s/m);
    const html = fs.readFileSync(out, 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('most active neuron');
    expect(html).not.toMatch(/<script|src="http|href="http/);
    const j = JSON.parse((await cli(['routing', '--model', moe, '--data', packed, '--dense', '--max-blocks', '3', '--json'])).stdout);
    for (const L of j.layers) for (const s of Object.values(L.domains) as { dense: number[]; tokens: number }[]) {
      expect(s.tokens).toBe(3 * manifest.seq_len);
      expect(s.dense.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    }
  });

  test('a dense model has no routing (exit 1); --out must be .html (exit 2)', async () => {
    const d = await cli(['routing', '--model', model, '--data', packed]);
    expect(d.code).toBe(1);
    expect(d.stderr).toContain('is a dense llama model; it has no routing');
    const o = await cli(['routing', '--model', moe, '--data', packed, '--out', path.join(root, 'r.txt')]);
    expect(o.code).toBe(2);
  });
});
