/** split: sharing-inter's default works on every preset and merges back bit for bit; --expert-sizes. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateCorpus, writeCorpus } from '@llama-moe/data-sampler';
import { openCheckpoint } from '@llama-moe/llama-model/node';
import { cli, tempDir, tinyModel } from './helpers.js';

let root: string, model: string, packed: string;

beforeAll(async () => {
  root = tempDir();
  model = await tinyModel(root);
  const corpus = path.join(root, 'corpus');
  await writeCorpus(corpus, generateCorpus({ seed: 6, docsPerDomain: 12, domains: ['wikipedia', 'github', 'book'] }));
  packed = path.join(root, 'packed');
  const r = await cli(['data', 'prepare', '--input', corpus, '--tokenizer', path.join(model, 'tokenizer.json'), '--seq-len', '32', '--out', packed, '--quiet']);
  if (r.code !== 0) throw new Error(r.stderr);
}, 120_000);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function sameTensors(a: string, b: string): void {
  const ca = openCheckpoint(a), cb = openCheckpoint(b);
  try {
    expect(cb.keys().sort()).toEqual(ca.keys().sort());
    for (const k of ca.keys()) expect(Buffer.from(cb.readRaw(k)).equals(Buffer.from(ca.readRaw(k))), k).toBe(true);
  } finally {
    ca.close();
    cb.close();
  }
}

describe('sharing-inter', () => {
  test('the default shared size works on the tiny preset (F 176, 8 experts: 24 shared + 8 × 19) and merge-experts restores the dense model bit for bit', async () => {
    const moe = path.join(root, 'inter');
    const r = await cli(['split', '--model', model, '--out', moe, '--experts', '8', '--top-k', '2', '--method', 'sharing-inter', '--data', packed, '--calibration-sequences', '8', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const cfg = JSON.parse(fs.readFileSync(path.join(moe, 'config.json'), 'utf8'));
    expect(cfg.size_experts[0]).toEqual(Array(8).fill(19));
    const merged = path.join(root, 'inter-merged');
    const m = await cli(['merge-experts', '--model', moe, '--out', merged, '--quiet']);
    expect(m.code, m.stderr).toBe(0);
    sameTensors(model, merged);
  });

  test('--shared-size and --expert-sizes set the sizes; sums that do not add up are usage errors', async () => {
    const moe = path.join(root, 'inter-sized');
    const r = await cli(['split', '--model', model, '--out', moe, '--experts', '4', '--top-k', '1', '--method', 'sharing-inter', '--shared-size', '16', '--expert-sizes', '40,40,40,40', '--data', packed, '--calibration-sequences', '4', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(moe, 'config.json'), 'utf8')).size_experts[0]).toEqual([40, 40, 40, 40]);
    const bad = await cli(['split', '--model', model, '--out', path.join(root, 'bad'), '--experts', '4', '--top-k', '1', '--method', 'sharing-inter', '--shared-size', '10', '--expert-sizes', '40,40,40,40', '--data', packed]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^llama-moe split: --expert-sizes sum to 160, but intermediate_size 176 minus --shared-size is 166/);
  });
});

describe('--expert-sizes', () => {
  test('unequal random experts, merged back bit for bit', async () => {
    const moe = path.join(root, 'unequal');
    const r = await cli(['split', '--model', model, '--out', moe, '--experts', '4', '--top-k', '2', '--method', 'random', '--expert-sizes', '30,40,50,56', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(moe, 'config.json'), 'utf8')).size_experts[0]).toEqual([30, 40, 50, 56]);
    const merged = path.join(root, 'unequal-merged');
    expect((await cli(['merge-experts', '--model', moe, '--out', merged, '--quiet'])).code).toBe(0);
    sameTensors(model, merged);
    const wrong = await cli(['split', '--model', model, '--out', path.join(root, 'x'), '--experts', '4', '--top-k', '2', '--method', 'random', '--expert-sizes', '30,40,50']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('--expert-sizes lists 3 sizes, --experts is 4');
  });
});
