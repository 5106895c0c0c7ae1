/** split: --data where no method reads it warns; --gate-init centroids has one description everywhere. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateCorpus, writeCorpus } from '@llama-moe/data-sampler';
import { cli, tempDir, tinyModel } from './helpers.js';
import { CENTROIDS_DESCRIPTION } from '../src/commands/split.js';

const repo = path.resolve(__dirname, '../../..');
let root: string, model: string, packed: string;

beforeAll(async () => {
  root = tempDir();
  model = await tinyModel(root);
  const corpus = path.join(root, 'corpus');
  await writeCorpus(corpus, generateCorpus({ seed: 2, docsPerDomain: 10, domains: ['wikipedia', 'github'] }));
  packed = path.join(root, 'packed');
  const r = await cli(['data', 'prepare', '--input', corpus, '--tokenizer', path.join(model, 'tokenizer.json'), '--seq-len', '32', '--out', packed, '--quiet']);
  if (r.code !== 0) throw new Error(r.stderr);
}, 120_000);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const squash = (s: string) => s.replace(/\s+/g, ' ');

describe('split --data', () => {
  test('--method random with --data warns that --data is not read, and the result equals a split without it', async () => {
    const a = path.join(root, 'with'), b = path.join(root, 'without');
    const r = await cli(['split', '--model', model, '--out', a, '--experts', '4', '--top-k', '2', '--method', 'random', '--data', packed, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^llama-moe split: warning: --data has no effect with --method random and --gate-init random; it is not read/m);
    expect((await cli(['split', '--model', model, '--out', b, '--experts', '4', '--top-k', '2', '--method', 'random', '--quiet'])).code).toBe(0);
    expect(fs.readFileSync(path.join(a, 'model.safetensors')).equals(fs.readFileSync(path.join(b, 'model.safetensors')))).toBe(true);
  });

  test('--gate-init centroids reads --data with any method, without a warning', async () => {
    const r = await cli(['split', '--model', model, '--out', path.join(root, 'cent'), '--experts', '4', '--top-k', '2', '--method', 'random', '--gate-init', 'centroids', '--data', packed, '--calibration-sequences', '4', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });

  test('--gate-init centroids is described in the same words by split --help, docs/cli.md and docs/expert-construction.md', async () => {
    const help = squash((await cli(['split', '--help'])).stdout);
    expect(help).toContain(squash(CENTROIDS_DESCRIPTION));
    for (const doc of ['docs/cli.md', 'docs/expert-construction.md']) expect(squash(fs.readFileSync(path.join(repo, doc), 'utf8')), doc).toContain(squash(CENTROIDS_DESCRIPTION));
    expect(fs.readFileSync(path.join(repo, 'packages/cli/README.md'), 'utf8')).not.toContain('centroids` needs `clustering');
  });
});
