/**
 * The exit-code table of docs/cli.md, row by row: 2 for what the user typed (options, config keys
 * and values, values that do not fit the model), 1 for what fails in files and data, whichever
 * command meets it. (130, Ctrl-C during train: train-run.test.ts.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cli, tempDir, tinyModel } from './helpers.js';

const repo = path.resolve(__dirname, '../../..');
let root: string, model: string, skewed: string, damaged: string, packed: string;

function config(name: string, body: string): string {
  const f = path.join(root, name);
  fs.writeFileSync(f, `model: ${model}\ndata: ${packed}\noutput_dir: ${path.join(root, 'run-' + name)}\nmax_steps: 1\nbatch_size: 1\n${body}`);
  return f;
}

beforeAll(async () => {
  root = tempDir();
  model = await tinyModel(root);
  // config.json says one intermediate_size, the tensors hold another.
  skewed = path.join(root, 'skewed');
  fs.cpSync(model, skewed, { recursive: true });
  const cfg = JSON.parse(fs.readFileSync(path.join(skewed, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(skewed, 'config.json'), JSON.stringify({ ...cfg, intermediate_size: 88 }));
  damaged = path.join(root, 'damaged');
  fs.cpSync(model, damaged, { recursive: true });
  const st = path.join(damaged, 'model.safetensors');
  fs.truncateSync(st, Math.floor(fs.statSync(st).size / 2));
  const corpus = path.join(root, 'corpus', 'book');
  fs.mkdirSync(corpus, { recursive: true });
  fs.writeFileSync(path.join(corpus, 'a.jsonl'), JSON.stringify({ text: 'The quiet river ran past the old mill. '.repeat(40) }) + '\n');
  packed = path.join(root, 'packed');
  const r = await cli(['data', 'prepare', '--input', path.join(root, 'corpus'), '--tokenizer', model, '--seq-len', '16', '--out', packed, '--quiet']);
  if (r.code !== 0) throw new Error(r.stderr);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const out = () => path.join(root, `out-${Math.random().toString(36).slice(2)}`);

const ROWS: [string, () => string[], number, RegExp][] = [
  ['unknown command', () => ['frobnicate'], 2, /unknown command/],
  ['option out of range', () => ['split', '--model', model, '--out', out(), '--experts', '4', '--top-k', '0', '--method', 'random'], 2, /--top-k must be at least 1/],
  ['options that contradict each other', () => ['split', '--model', model, '--out', out(), '--experts', '4', '--top-k', '8', '--method', 'random'], 2, /--top-k 8 is larger than --experts 4/],
  ['an option that does not fit the model (split)', () => ['split', '--model', model, '--out', out(), '--experts', '5', '--top-k', '1', '--method', 'random'], 2, /--experts 5 does not divide/],
  ['an option that does not fit the model (generate)', () => ['generate', '--model', model, '--tokens', '1,600', '--max-new-tokens', '1'], 2, /token id 600 .* vocab_size 512/],
  ['config value out of range', () => ['train', '--config', config('lr.yaml', 'lr: -1\n')], 2, /config\.lr: must be >= 0, got -1|config\.lr: must be/],
  ['unknown config key', () => ['train', '--config', config('key.yaml', 'learning_rat: 0.1\n')], 2, /config\.learning_rat: unknown key/],
  ['unknown key as an override', () => ['train', '--config', config('ovr.yaml', ''), '--weights', 'sheared_llama'], 2, /config\.weights: unknown key/],
  ['config override out of range', () => ['train', '--config', config('ovr2.yaml', ''), '--batch-size', '0'], 2, /config\.batch_size/],
  ['config file syntax', () => ['train', '--config', config('syntax.yaml', 'lr: [1, 2\n')], 2, /--config .*syntax\.yaml: line \d+/],
  ['missing model folder', () => ['inspect', path.join(root, 'nope')], 1, /does not exist/],
  ['damaged safetensors', () => ['generate', '--model', damaged, '--tokens', '1', '--max-new-tokens', '1'], 1, /safetensors|model\.safetensors/],
  ['tensor shape differs from config.json (split)', () => ['split', '--model', skewed, '--out', out(), '--experts', '4', '--top-k', '1', '--method', 'random'], 1, /has shape/],
  ['tensor shape differs from config.json (generate)', () => ['generate', '--model', skewed, '--tokens', '1', '--max-new-tokens', '1'], 1, /shape/],
];

describe('exit codes', () => {
  for (const [what, argv, code, msg] of ROWS) {
    test(`${code}: ${what}`, async () => {
      const r = await cli(argv());
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(msg);
      expect(r.code, r.stderr).toBe(code);
    });
  }

  test('docs/cli.md and --help state the same table', async () => {
    const doc = fs.readFileSync(path.join(repo, 'docs/cli.md'), 'utf8');
    for (const c of ['0', '1', '2', '130']) expect(doc).toMatch(new RegExp(`^\\| ${c} \\| `, 'm'));
    const help = (await cli(['--help'])).stdout;
    expect(help).toContain('Exit codes: 0 success, 1 runtime error (files, data, model), 2 usage error (options, config keys and values), 130 interrupted (Ctrl-C).');
  });
});
