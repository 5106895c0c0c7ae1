/** `eval --data`: the whole split by default, blocks and tokens per domain, counts as integers. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateCorpus, writeCorpus } from '@llama-moe/data-sampler';
import { cli, tempDir, tinyModel } from './helpers.js';

let root: string, model: string, packed: string;
let manifest: { seq_len: number; domains: Record<string, { blocks: number }> };

beforeAll(async () => {
  root = tempDir();
  model = await tinyModel(root);
  const corpus = path.join(root, 'corpus');
  await writeCorpus(corpus, generateCorpus({ seed: 9, docsPerDomain: 14, domains: ['arxiv', 'book'] }));
  packed = path.join(root, 'packed');
  const r = await cli(['data', 'prepare', '--input', corpus, '--tokenizer', path.join(model, 'tokenizer.json'), '--seq-len', '32', '--out', packed, '--quiet']);
  if (r.code !== 0) throw new Error(r.stderr);
  manifest = JSON.parse(fs.readFileSync(path.join(packed, 'llama_moe_dataset.json'), 'utf8'));
}, 120_000);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('eval --data', () => {
  test('without --max-blocks every block of every domain is evaluated, and the output says so', async () => {
    const r = await cli(['eval', '--model', model, '--data', packed, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout).metrics;
    let total = 0;
    for (const [d, info] of Object.entries(manifest.domains)) {
      expect(info.blocks).toBeGreaterThan(8);
      expect(m[d].blocks).toBe(info.blocks);
      // Every position but the first of a block is predicted.
      expect(m[d].tokens).toBe(info.blocks * (manifest.seq_len - 1));
      total += info.blocks;
    }
    expect(m.overall.blocks).toBe(total);
    const t = await cli(['eval', '--model', model, '--data', packed]);
    expect(t.stderr).toContain('evaluated every block of --data (the whole split)');
  });

  test('--max-blocks caps each domain; blocks and tokens print as integers, not "504.0000"', async () => {
    const r = await cli(['eval', '--model', model, '--data', packed, '--max-blocks', '3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('at most 3 blocks per domain');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^name\s+blocks\s+loss\s+ppl\s+tokens$/);
    const arxiv = lines.find((l) => l.startsWith('arxiv'))!.split(/\s+/);
    expect(arxiv[1]).toBe('3');
    expect(arxiv[4]).toBe(String(3 * (manifest.seq_len - 1)));
    expect(arxiv[2]).toMatch(/^\d+\.\d{4}$/);
    expect(r.stdout).not.toMatch(/\b\d+\.0000\b/);
  });

  test('--help names the default of --max-blocks', async () => {
    const r = await cli(['eval', '--help']);
    expect(r.stdout).toMatch(/--max-blocks N\s+Evaluate at most N blocks per domain \(default: every block/);
  });
});
