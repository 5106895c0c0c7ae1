/**
 * A packed dataset made with another tokenizer than the model's is refused by every command that
 * reads it through the model (eval --data, split --data, train), naming both tokenizers; an
 * explicit flag accepts it with a warning.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateCorpus, writeCorpus } from '@llama-moe/data-sampler';
import { cli, listTree, tempDir, tinyModel } from './helpers.js';
import { modelTokenizerHash } from '../src/tokenizer-check.js';

let root: string, model: string, other: string, foreign: string, own: string;

beforeAll(async () => {
  root = tempDir();
  model = await tinyModel(root);
  // Same preset, another vocabulary: another tokenizer.json.
  other = path.join(root, 'other');
  expect((await cli(['init', '--preset', 'tiny', '--vocab-size', '300', '--out', other, '--quiet'])).code).toBe(0);
  const corpus = path.join(root, 'corpus');
  await writeCorpus(corpus, generateCorpus({ seed: 5, docsPerDomain: 12, domains: ['wikipedia', 'github'] }));
  foreign = path.join(root, 'foreign');
  own = path.join(root, 'own');
  for (const [out, tok] of [[foreign, other], [own, model]] as const) {
    const r = await cli(['data', 'prepare', '--input', corpus, '--tokenizer', path.join(tok, 'tokenizer.json'), '--seq-len', '32', '--out', out, '--quiet']);
    if (r.code !== 0) throw new Error(r.stderr);
  }
}, 120_000);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function manifestHash(dir: string): string {
  return JSON.parse(fs.readFileSync(path.join(dir, 'llama_moe_dataset.json'), 'utf8')).tokenizer_hash;
}

describe('tokenizer of a packed dataset vs the model', () => {
  test('the model-side hash equals the one data prepare records for the same tokenizer', () => {
    expect(modelTokenizerHash(model)).toBe(manifestHash(own));
    expect(modelTokenizerHash(other)).toBe(manifestHash(foreign));
    expect(manifestHash(own)).not.toBe(manifestHash(foreign));
  });

  test('eval --data refuses with one line naming both tokenizers; --allow-tokenizer-mismatch warns and goes on', async () => {
    const r = await cli(['eval', '--model', model, '--data', foreign, '--max-blocks', '1']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`--data ${foreign} was packed with tokenizer ${manifestHash(foreign)}, but --model ${model} has tokenizer ${manifestHash(own)}`);
    expect(r.stderr).toContain('--allow-tokenizer-mismatch');
    const ok = await cli(['eval', '--model', model, '--data', foreign, '--max-blocks', '1', '--allow-tokenizer-mismatch']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/^llama-moe eval: warning: --data .* was packed with tokenizer/m);
    expect((await cli(['eval', '--model', model, '--data', own, '--max-blocks', '1'])).code).toBe(0);
  });

  test('split --data refuses before writing anything', async () => {
    const out = path.join(root, 'moe');
    const r = await cli(['split', '--model', model, '--out', out, '--experts', '4', '--top-k', '1', '--method', 'gradient', '--data', foreign, '--calibration-sequences', '4', '--quiet']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`was packed with tokenizer ${manifestHash(foreign)}`);
    expect(listTree(out)).toEqual([]);
    expect(fs.readdirSync(root).filter((f) => f.includes('moe'))).toEqual([]);
  });

  test('train refuses; the allow_tokenizer_mismatch key (or --allow-tokenizer-mismatch) lets it run', async () => {
    const run = path.join(root, 'run');
    const conf = path.join(root, 'train.yaml');
    fs.writeFileSync(conf, `model: ${model}\ndata: ${foreign}\noutput_dir: ${run}\nmax_steps: 1\nbatch_size: 1\nwarmup_steps: 0\neval_every: 0\neval_blocks: 1\nsave_every: 1\n`);
    const r = await cli(['train', '--config', conf, '--quiet']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`data ${foreign} was packed with tokenizer ${manifestHash(foreign)}, but model ${model} has tokenizer ${manifestHash(own)}`);
    expect(fs.existsSync(run)).toBe(false);
    const ok = await cli(['train', '--config', conf, '--quiet', '--allow-tokenizer-mismatch']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/llama-moe train: warning: data .* was packed with tokenizer/);
  });
});
