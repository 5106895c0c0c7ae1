/** Error lines speak the user's terms: option names they typed, hints that fit, no doubled prefix. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateCorpus, writeCorpus } from '@llama-moe/data-sampler';
import { cli, tempDir, tinyModel } from './helpers.js';

let root: string, model: string, packed: string;

beforeAll(async () => {
  root = tempDir();
  model = await tinyModel(root);
  const corpus = path.join(root, 'corpus');
  await writeCorpus(corpus, generateCorpus({ seed: 8, docsPerDomain: 10, domains: ['wikipedia', 'github', 'book'] }));
  packed = path.join(root, 'packed');
  const r = await cli(['data', 'prepare', '--input', corpus, '--tokenizer', model, '--seq-len', '32', '--out', packed, '--quiet']);
  if (r.code !== 0) throw new Error(r.stderr);
}, 120_000);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function input(name: string, file: string, content: string | Buffer): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, file), content);
  return dir;
}

describe('messages name what the user typed', () => {
  test('data prepare: a missing text column names --text-column, not the library\'s textColumn', async () => {
    const dir = input('nocol', 'a.jsonl', JSON.stringify({ body: 'hello there' }) + '\n');
    const r = await cli(['data', 'prepare', '--input', dir, '--tokenizer', model, '--seq-len', '8', '--out', path.join(root, 'p1')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('missing column "text"');
    expect(r.stderr).toContain('--text-column');
    expect(r.stderr).not.toMatch(/textColumn/);
  });

  test('data prepare: too little text for one block names --seq-len and --remainder pad', async () => {
    const dir = input('short', 'a.jsonl', JSON.stringify({ text: 'hi' }) + '\n');
    const r = await cli(['data', 'prepare', '--input', dir, '--tokenizer', model, '--seq-len', '64', '--out', path.join(root, 'p2')]);
    expect(r.code, r.stderr).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/seqLen|remainder '/);
  });

  test('a damaged Parquet file gets a hint about the file, not about a record', async () => {
    const dir = input('pq', 'a.parquet', Buffer.from('PAR1 this is not really parquet PAR1'));
    const r = await cli(['data', 'prepare', '--input', dir, '--tokenizer', model, '--seq-len', '8', '--out', path.join(root, 'p3')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not a readable Parquet file');
    expect(r.stderr).not.toContain('fix or remove the record');
    expect(r.stderr).toContain('check that the file is complete');
  });

  test('merge-experts of a model that cannot merge back: one prefix, not "merge-experts: merge-experts:"', async () => {
    const moe = path.join(root, 'inner');
    const s = await cli(['split', '--model', model, '--out', moe, '--experts', '4', '--top-k', '1', '--method', 'sharing-inner', '--data', packed, '--calibration-sequences', '4', '--expert-sizes', '60,60,60,60', '--quiet']);
    expect(s.code, s.stderr).toBe(0);
    const r = await cli(['merge-experts', '--model', moe, '--out', path.join(root, 'm')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^llama-moe merge-experts: layer 0: neuron \d+ appears twice/);
    expect(r.stderr).not.toContain('merge-experts: merge-experts:');
  });

  test('train: a domain too short for the held-out blocks names eval_blocks, not blocksPerDomain', async () => {
    const conf = path.join(root, 't.yaml');
    fs.writeFileSync(conf, `model: ${model}\ndata: ${packed}\noutput_dir: ${path.join(root, 'run')}\nmax_steps: 1\neval_blocks: 100000\n`);
    const r = await cli(['train', '--config', conf]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('eval_blocks');
    expect(r.stderr).not.toMatch(/blocksPerDomain|seqLen/);
  });
});
