/**
 * A matrix of bad invocations: each must print exactly one line on stderr in the form
 * `llama-moe <command>: <problem> (<what to do>)`, no stack trace, the right exit code
 * (2 usage, 1 runtime), and leave the file system exactly as it was.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cli, listTree, tempDir, tinyModel } from './helpers.js';

let root: string;
let model: string;
let readOnlyOut: string;
let readOnlyKind: string;

/** A folder writes cannot go into: chmod 555, unless we are root (then a path under a regular file). */
function unwritableTarget(base: string): { out: string; kind: string } {
  const ro = path.join(base, 'ro');
  fs.mkdirSync(ro);
  fs.chmodSync(ro, 0o555);
  const probe = path.join(ro, '.probe');
  try {
    fs.writeFileSync(probe, 'x');
    fs.unlinkSync(probe);
  } catch {
    return { out: path.join(ro, 'out'), kind: 'chmod 555 folder' };
  }
  // Root ignores permissions: no one can create a folder under a regular file.
  fs.chmodSync(ro, 0o755);
  fs.writeFileSync(path.join(ro, 'file.txt'), 'not a folder\n');
  return { out: path.join(ro, 'file.txt', 'sub'), kind: 'path under a regular file' };
}

beforeAll(async () => {
  root = tempDir();
  model = await tinyModel(root);
  const bad = path.join(root, 'bad-config');
  fs.mkdirSync(bad);
  fs.writeFileSync(path.join(bad, 'config.json'), '{"model_type": "llama", "hidden_size": ');
  const badWeights = path.join(root, 'bad-weights');
  fs.mkdirSync(badWeights);
  fs.copyFileSync(path.join(model, 'config.json'), path.join(badWeights, 'config.json'));
  fs.writeFileSync(path.join(badWeights, 'model.safetensors'), 'this is not a safetensors file');
  const nonEmpty = path.join(root, 'non-empty');
  fs.mkdirSync(nonEmpty);
  fs.writeFileSync(path.join(nonEmpty, 'keep.txt'), 'precious\n');
  fs.writeFileSync(path.join(root, 'broken.yaml'), 'model: a\n  lr: [1, 2\n');
  fs.writeFileSync(path.join(root, 'train.yaml'), 'model: models/x\nmax_steps: 10\nlr: 0.001\n');
  fs.writeFileSync(path.join(root, 'task.txt'), 'x\n');
  ({ out: readOnlyOut, kind: readOnlyKind } = unwritableTarget(root));
});
afterAll(() => {
  fs.chmodSync(path.join(root, 'ro'), 0o755);
  fs.rmSync(root, { recursive: true, force: true });
});

interface Case {
  name: string;
  argv: () => string[];
  code: 1 | 2;
  command: string;
  match: RegExp;
}

const M = () => model;
const R = (p: string) => path.join(root, p);

const CASES: Case[] = [
  { name: 'missing model folder', argv: () => ['inspect', R('nope')], code: 1, command: 'inspect', match: /nope: model folder does not exist/ },
  { name: 'model folder without config.json', argv: () => ['logits', '--model', R('non-empty'), '--tokens', '1', '--out', R('l.npy')], code: 1, command: 'logits', match: /non-empty: no config\.json/ },
  { name: 'unreadable config.json', argv: () => ['inspect', R('bad-config')], code: 1, command: 'inspect', match: /bad-config\/config\.json: not valid JSON/ },
  { name: 'corrupt safetensors', argv: () => ['generate', '--model', R('bad-weights'), '--tokens', '1', '--max-new-tokens', '2'], code: 1, command: 'generate', match: /model\.safetensors: .*(header|short|safetensors)/ },
  { name: 'unknown option with suggestion', argv: () => ['init', '--preset', 'tiny', '--outt', R('x')], code: 2, command: 'init', match: /unknown option '--outt' \(did you mean '--out'\?/ },
  { name: 'unknown command with suggestion', argv: () => ['ispect', M()], code: 2, command: '', match: /unknown command 'ispect' \(did you mean 'inspect'\?/ },
  { name: 'unknown subcommand', argv: () => ['data', 'prep', '--input', R('x')], code: 2, command: 'data', match: /unknown subcommand 'prep' \(did you mean 'data prepare'\?/ },
  { name: 'missing required option', argv: () => ['init', '--preset', 'tiny'], code: 2, command: 'init', match: /missing required option --out DIR/ },
  { name: 'option without its value', argv: () => ['init', '--out', R('x'), '--preset'], code: 2, command: 'init', match: /option --preset needs a value/ },
  { name: 'option given twice', argv: () => ['init', '--preset', 'tiny', '--out', R('x'), '--out', R('y')], code: 2, command: 'init', match: /--out is given more than once/ },
  { name: 'non-numeric number', argv: () => ['generate', '--model', M(), '--tokens', '1', '--max-new-tokens', 'ten'], code: 2, command: 'generate', match: /--max-new-tokens must be an integer, got 'ten'/ },
  { name: 'non-integer seed', argv: () => ['init', '--preset', 'tiny', '--out', R('x'), '--seed', '1.5'], code: 2, command: 'init', match: /--seed must be an integer, got '1\.5'/ },
  { name: 'unknown preset with suggestion', argv: () => ['init', '--preset', 'stories15m', '--out', R('x')], code: 2, command: 'init', match: /--preset must be one of .* \(did you mean 'stories15M'\?\)/ },
  { name: 'top-k larger than experts', argv: () => ['split', '--model', M(), '--out', R('moe'), '--experts', '4', '--top-k', '5', '--method', 'random'], code: 2, command: 'split', match: /--top-k 5 is larger than --experts 4/ },
  { name: 'zero experts', argv: () => ['split', '--model', M(), '--out', R('moe'), '--experts', '0', '--top-k', '1', '--method', 'random'], code: 2, command: 'split', match: /--experts must be at least 1, got 0/ },
  { name: 'negative experts', argv: () => ['split', '--model', M(), '--out', R('moe'), '--experts', '-2', '--top-k', '1', '--method', 'random'], code: 2, command: 'split', match: /--experts must be at least 1, got -2/ },
  { name: 'unknown method', argv: () => ['split', '--model', M(), '--out', R('moe'), '--experts', '4', '--top-k', '2', '--method', 'kmeans'], code: 2, command: 'split', match: /--method must be one of random, clustering, graph, gradient, sharing-inner, sharing-inter, upcycle, carve, drop-upcycle, got 'kmeans'/ },
  { name: 'unknown format', argv: () => ['split', '--model', M(), '--out', R('moe'), '--experts', '4', '--top-k', '2', '--method', 'random', '--format', 'mixtrall'], code: 2, command: 'split', match: /--format must be one of llama-moe, mixtral, qwen2_moe, gguf, got 'mixtrall' \(did you mean 'mixtral'\?\)/ },
  { name: 'experts not dividing intermediate_size', argv: () => ['split', '--model', M(), '--out', R('moe'), '--experts', '7', '--top-k', '2', '--method', 'random'], code: 2, command: 'split', match: /--experts 7 does not divide the model's intermediate_size 176/ },
  { name: 'method needing calibration data', argv: () => ['split', '--model', M(), '--out', R('moe'), '--experts', '4', '--top-k', '2', '--method', 'graph'], code: 2, command: 'split', match: /--method graph needs calibration data/ },
  { name: 'centroid gate init without calibration data', argv: () => ['split', '--model', M(), '--out', R('moe'), '--experts', '4', '--top-k', '2', '--method', 'random', '--gate-init', 'centroids'], code: 2, command: 'split', match: /--gate-init centroids needs calibration data/ },
  { name: 'split of a missing model', argv: () => ['split', '--model', R('nope'), '--out', R('moe'), '--experts', '4', '--top-k', '2', '--method', 'random'], code: 1, command: 'split', match: /--model .*nope: model folder does not exist/ },
  { name: 'init into a non-empty folder', argv: () => ['init', '--preset', 'tiny', '--out', R('non-empty')], code: 1, command: 'init', match: /non-empty: folder exists and is not empty \(choose a new folder/ },
  { name: 'split into a non-empty folder', argv: () => ['split', '--model', M(), '--out', R('non-empty'), '--experts', '4', '--top-k', '2', '--method', 'random'], code: 1, command: 'split', match: /non-empty: folder exists and is not empty/ },
  { name: 'data prepare into a non-empty folder', argv: () => ['data', 'prepare', '--input', R('non-empty'), '--tokenizer', M(), '--seq-len', '8', '--out', R('non-empty')], code: 1, command: 'data prepare', match: /--out .*non-empty: folder exists and is not empty/ },
  { name: 'unwritable output folder', argv: () => ['init', '--preset', 'tiny', '--out', readOnlyOut], code: 1, command: 'init', match: /cannot be created because .* (is not writable|is a file, not a folder)/ },
  { name: 'logits into an unwritable place', argv: () => ['logits', '--model', M(), '--tokens', '1,2', '--out', path.join(readOnlyOut, 'l.npy')], code: 1, command: 'logits', match: /cannot be created because/ },
  { name: 'logits output that is not .npy', argv: () => ['logits', '--model', M(), '--tokens', '1,2', '--out', R('logits.bin')], code: 2, command: 'logits', match: /--out .*logits\.bin: must end with \.npy/ },
  { name: 'token id out of range', argv: () => ['logits', '--model', M(), '--tokens', '1,512', '--out', R('l.npy')], code: 2, command: 'logits', match: /token id 512 \(item 2\) is out of range for vocab_size 512/ },
  { name: 'both --prompt and --tokens', argv: () => ['generate', '--model', M(), '--prompt', 'hi', '--tokens', '1', '--max-new-tokens', '2'], code: 2, command: 'generate', match: /--prompt and --tokens cannot be used together/ },
  { name: 'top-p out of range', argv: () => ['generate', '--model', M(), '--tokens', '1', '--max-new-tokens', '2', '--top-p', '1.5'], code: 2, command: 'generate', match: /--top-p must be at most 1, got 1\.5/ },
  { name: 'data prepare of a missing input', argv: () => ['data', 'prepare', '--input', R('nope'), '--tokenizer', M(), '--seq-len', '8', '--out', R('packed')], code: 1, command: 'data prepare', match: /--input .*nope: does not exist/ },
  { name: 'data prepare with a missing tokenizer', argv: () => ['data', 'prepare', '--input', R('non-empty'), '--tokenizer', R('nope.json'), '--seq-len', '8', '--out', R('packed')], code: 1, command: 'data prepare', match: /--tokenizer .*nope\.json: does not exist/ },
  { name: 'data prepare with an unknown format', argv: () => ['data', 'prepare', '--input', R('non-empty'), '--tokenizer', M(), '--seq-len', '8', '--out', R('packed'), '--format', 'csv'], code: 2, command: 'data prepare', match: /--format must be one of auto, jsonl, text, arrow, parquet, got 'csv'/ },
  { name: 'data inspect of a model folder', argv: () => ['data', 'inspect', M()], code: 1, command: 'data inspect', match: /no llama_moe_dataset\.json; not a packed dataset/ },
  { name: 'inspect with a stray argument', argv: () => ['inspect', M(), 'extra'], code: 2, command: 'inspect', match: /unexpected argument 'extra'/ },
  { name: 'train config with a syntax error', argv: () => ['train', '--config', R('broken.yaml')], code: 2, command: 'train', match: /broken\.yaml: line \d+: / },
  { name: 'train override typo', argv: () => ['train', '--config', R('train.yaml'), '--max-step', '5'], code: 2, command: 'train', match: /unknown option '--max-step' \(did you mean '--max-steps'\?/ },
  { name: 'eval with a non-jsonl task', argv: () => ['eval', '--model', M(), '--task', R('task.txt')], code: 2, command: 'eval', match: /--task .*task\.txt: must be a \.jsonl file/ },
  { name: 'export without --out', argv: () => ['export', '--model', M(), '--data', R('non-empty')], code: 2, command: 'export', match: /missing required option --out DIR/ },
  { name: 'merge-experts of a dense model', argv: () => ['merge-experts', '--model', M(), '--out', R('dense')], code: 1, command: 'merge-experts', match: /is a dense llama model, there are no experts to merge/ },
];

describe('bad invocations', () => {
  test('the matrix is large enough', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(15);
  });

  test.each(CASES)('$name', async (c) => {
    const before = listTree(root);
    const r = await cli(c.argv());
    expect(r.code, r.stderr).toBe(c.code);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n');
    expect(lines.length, r.stderr).toBe(2); // one line + the final newline
    expect(lines[1]).toBe('');
    const line = lines[0]!;
    expect(line.startsWith(c.command ? `llama-moe ${c.command}: ` : 'llama-moe: '), line).toBe(true);
    expect(line).toMatch(c.match);
    expect(line).toMatch(/ \(.+\)$/);
    expect(line).not.toMatch(/\bat .*:\d+:\d+/);
    expect(listTree(root)).toEqual(before);
  });

  test(`unwritable output is detected (${'using the platform\'s way'})`, () => {
    expect(['chmod 555 folder', 'path under a regular file']).toContain(readOnlyKind);
  });

  test('--debug adds the stack trace after the one line', async () => {
    const r = await cli(['inspect', R('nope'), '--debug']);
    expect(r.code).toBe(1);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^llama-moe inspect: .*nope: model folder does not exist/);
    expect(lines.length).toBeGreaterThan(2);
    expect(r.stderr).toMatch(/\n\s+at /);
    const g = await cli(['--debug', 'init', '--preset', 'tiny', '--outt', 'x']);
    expect(g.code).toBe(2);
    expect(g.stderr).toMatch(/\n\s+at /);
  });
});
