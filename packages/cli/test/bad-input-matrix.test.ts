/**
 * A second matrix of bad inputs (extends errors.test.ts, no case repeated): broken model folders
 * (pickled weights, escaping or missing shards, lying or truncated safetensors, unsupported
 * config), wrong option types and ranges, broken data and tokenizer files, a directory where a
 * file belongs, a read-only file system and a full disk. Each must exit non-zero with exactly one
 * line on stderr naming the problem, no stack trace, and write nothing.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, test } from 'vitest';
import { cli, listTree, tempDir, tinyModel } from './helpers.js';

let root: string;
let model: string;
const R = (...p: string[]) => path.join(root, ...p);
const M = () => model;

/** A folder holding a copy of the tiny model's small files plus whatever `files` says. */
function modelVariant(name: string, files: Record<string, string | Uint8Array | null>, opts: { weights?: boolean } = {}): void {
  const dir = R(name);
  fs.mkdirSync(dir);
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json']) {
    fs.copyFileSync(path.join(model, f), path.join(dir, f));
  }
  if (opts.weights) fs.copyFileSync(path.join(model, 'model.safetensors'), path.join(dir, 'model.safetensors'));
  for (const [f, content] of Object.entries(files)) {
    const p = path.join(dir, f);
    fs.rmSync(p, { force: true });
    if (content === null) fs.mkdirSync(p, { recursive: true });
    else fs.writeFileSync(p, content);
  }
}

function configWith(edit: (c: Record<string, unknown>) => void): string {
  const c = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8')) as Record<string, unknown>;
  edit(c);
  return JSON.stringify(c, null, 2);
}

/** Mount a tmpfs (root in a container usually may); false when the platform does not let us. */
function tryMount(dir: string, options: string): boolean {
  fs.mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'ignore' });
  } catch {
    /* not mounted */
  }
}

let fullDisk = '';
let roDisk = '';
let canMountFull = false;
let canMountRo = false;

beforeAll(async () => {
  root = tempDir('llama-moe-bad-input-');
  model = await tinyModel(root);
  const st = fs.readFileSync(path.join(model, 'model.safetensors'));

  modelVariant('pickled-bin', { 'pytorch_model.bin': 'PK\u0003\u0004 pickled torch archive' });
  modelVariant('pickled-pt', { 'model.pt': '\u0080\u0002 pickle' });
  const shardIndex = (file: string) => JSON.stringify({ metadata: {}, weight_map: { 'model.embed_tokens.weight': file } });
  modelVariant('escape-dotdot', { 'model.safetensors.index.json': shardIndex('../outside.safetensors') });
  modelVariant('escape-absolute', { 'model.safetensors.index.json': shardIndex(R('outside.safetensors')) });
  modelVariant('index-pickled-shard', { 'model.safetensors.index.json': shardIndex('pytorch_model-00001-of-00002.bin') });
  modelVariant('index-missing-shard', { 'model.safetensors.index.json': shardIndex('model-00001-of-00009.safetensors') });
  modelVariant('index-not-json', { 'model.safetensors.index.json': '{"weight_map": {' });
  modelVariant('both-single-and-index', { 'model.safetensors.index.json': shardIndex('model.safetensors') }, { weights: true });
  fs.copyFileSync(path.join(model, 'model.safetensors'), R('outside.safetensors'));

  const huge = Uint8Array.from(st);
  new DataView(huge.buffer).setBigUint64(0, 2n ** 63n, true);
  modelVariant('st-header-2p63', { 'model.safetensors': huge });
  modelVariant('st-truncated', { 'model.safetensors': st.subarray(0, st.length - 100) });
  const n = Number(new DataView(st.buffer, st.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(st.subarray(8, 8 + n))) as Record<string, { data_offsets: [number, number] }>;
  const first = Object.keys(header).find((k) => k !== '__metadata__')!;
  header[first]!.data_offsets = [header[first]!.data_offsets[0], header[first]!.data_offsets[1] + 4];
  const lieText = new TextEncoder().encode(JSON.stringify(header));
  const lie = new Uint8Array(8 + lieText.length + (st.length - 8 - n));
  new DataView(lie.buffer).setBigUint64(0, BigInt(lieText.length), true);
  lie.set(lieText, 8);
  lie.set(st.subarray(8 + n), 8 + lieText.length);
  modelVariant('st-offsets-lie', { 'model.safetensors': lie });
  modelVariant('st-is-dir', { 'model.safetensors': null });
  modelVariant('no-weights', {});

  modelVariant('cfg-yarn', { 'config.json': configWith((c) => (c.rope_scaling = { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 64 })) }, { weights: true });
  modelVariant('cfg-gpt2', { 'config.json': configWith((c) => (c.model_type = 'gpt2')) }, { weights: true });
  modelVariant('cfg-array', { 'config.json': '[1, 2, 3]' }, { weights: true });
  modelVariant('cfg-dup', { 'config.json': configWith(() => {}).replace('{', '{\n  "hidden_size": 32,') }, { weights: true });
  modelVariant('cfg-heads', { 'config.json': configWith((c) => (c.num_attention_heads = 5)) }, { weights: true });
  modelVariant('cfg-is-dir', { 'config.json': null }, { weights: true });
  modelVariant('tok-broken', { 'tokenizer.json': '{"model": {"type": "BPE", "vocab": ' }, { weights: true });

  fs.mkdirSync(R('corpus', 'web'), { recursive: true });
  fs.writeFileSync(R('corpus', 'web', 'a.jsonl'), '{"text": "fine"}\n{"text": "also fine"}\n');
  fs.mkdirSync(R('bad-jsonl'), { recursive: true });
  fs.writeFileSync(R('bad-jsonl', 'a.jsonl'), '{"text": "fine"}\n{"text": broken\n');
  fs.mkdirSync(R('bad-parquet'), { recursive: true });
  fs.writeFileSync(R('bad-parquet', 'a.parquet'), 'PAR1 this is not really parquet PAR1');
  fs.mkdirSync(R('bad-arrow'), { recursive: true });
  fs.writeFileSync(R('bad-arrow', 'a.arrow'), 'ARROW1\u0000\u0000 truncated');
  fs.mkdirSync(R('no-text-column'), { recursive: true });
  fs.writeFileSync(R('no-text-column', 'a.jsonl'), '{"content": "x"}\n');
  fs.mkdirSync(R('a-directory.yaml'));
  fs.writeFileSync(R('regular-file'), 'not a folder\n');

  fullDisk = R('full');
  canMountFull = tryMount(fullDisk, 'size=256k');
  roDisk = R('ro-mount');
  canMountRo = tryMount(roDisk, 'size=64k,ro');
});

afterAll(() => {
  unmount(fullDisk);
  unmount(roDisk);
  fs.rmSync(root, { recursive: true, force: true });
});

interface Case {
  name: string;
  argv: () => string[];
  command: string;
  match: RegExp;
}

const SPLIT = (m: string, ...extra: string[]) => ['split', '--model', m, '--out', R('moe-out'), '--experts', '4', '--top-k', '2', '--method', 'random', ...extra];
const PREP = (...extra: string[]) => ['data', 'prepare', '--input', R('corpus'), '--tokenizer', M(), '--seq-len', '8', '--out', R('packed-out'), ...extra];

const CASES: Case[] = [
  // Weights that must never be loaded, and shard names that leave the model folder.
  { name: 'pickled pytorch_model.bin only', argv: () => ['inspect', R('pickled-bin')], command: 'inspect', match: /pytorch_model\.bin.*pickled.*safetensors/ },
  { name: 'pickled model.pt only (split)', argv: () => SPLIT(R('pickled-pt')), command: 'split', match: /model\.pt.*pickled.*safetensors/ },
  { name: 'index shard ../outside.safetensors', argv: () => ['inspect', R('escape-dotdot')], command: 'inspect', match: /\.\.\/outside\.safetensors.*escapes the model folder/ },
  { name: 'index shard with an absolute path', argv: () => SPLIT(R('escape-absolute')), command: 'split', match: /absolute path/ },
  { name: 'index naming a pickled shard', argv: () => ['inspect', R('index-pickled-shard')], command: 'inspect', match: /pytorch_model-00001-of-00002\.bin.*pickled/ },
  { name: 'index naming a missing shard', argv: () => ['inspect', R('index-missing-shard')], command: 'inspect', match: /model-00001-of-00009\.safetensors.*does not exist/ },
  { name: 'index that is not JSON', argv: () => ['inspect', R('index-not-json')], command: 'inspect', match: /model\.safetensors\.index\.json: not valid JSON/ },
  { name: 'both model.safetensors and an index', argv: () => ['inspect', R('both-single-and-index')], command: 'inspect', match: /holds both model\.safetensors and model\.safetensors\.index\.json/ },
  // Corrupted safetensors.
  { name: 'safetensors header length 2^63', argv: () => ['inspect', R('st-header-2p63')], command: 'inspect', match: /model\.safetensors: header length 9223372036854775808 exceeds/ },
  { name: 'truncated safetensors', argv: () => SPLIT(R('st-truncated')), command: 'split', match: /model\.safetensors: .*(truncated|run past|trailing|hole)/ },
  { name: 'safetensors offsets that lie about the dtype size', argv: () => ['inspect', R('st-offsets-lie')], command: 'inspect', match: /model\.safetensors: tensor '.*': data_offsets .* needs/ },
  { name: 'model.safetensors is a directory', argv: () => ['inspect', R('st-is-dir')], command: 'inspect', match: /model\.safetensors: .*(not a regular file|directory|EISDIR)/ },
  { name: 'model folder without weights (generate)', argv: () => ['generate', '--model', R('no-weights'), '--tokens', '1', '--max-new-tokens', '1'], command: 'generate', match: /no-weights: no model\.safetensors or model\.safetensors\.index\.json/ },
  // config.json problems.
  { name: 'unsupported rope_scaling (yarn)', argv: () => SPLIT(R('cfg-yarn')), command: 'split', match: /config\.json: 'rope_scaling.*yarn/ },
  { name: 'unknown model_type', argv: () => ['inspect', R('cfg-gpt2')], command: 'inspect', match: /config\.json: 'model_type'.*gpt2/ },
  { name: 'config.json is a JSON array', argv: () => ['inspect', R('cfg-array')], command: 'inspect', match: /config\.json: .*object/ },
  { name: 'config.json with a duplicate key', argv: () => ['inspect', R('cfg-dup')], command: 'inspect', match: /config\.json: 'hidden_size': appears twice/ },
  { name: 'hidden_size not divisible by the heads', argv: () => ['inspect', R('cfg-heads')], command: 'inspect', match: /config\.json: .*num_attention_heads/ },
  { name: 'config.json is a directory', argv: () => ['inspect', R('cfg-is-dir')], command: 'inspect', match: /config\.json: cannot read: .*EISDIR/ },
  { name: 'a regular file where the model folder belongs', argv: () => ['inspect', R('regular-file')], command: 'inspect', match: /regular-file: .*(not a folder|not a directory|is a file)/ },
  // Option types and ranges not in errors.test.ts.
  { name: 'non-numeric --experts', argv: () => ['split', '--model', M(), '--out', R('moe-out'), '--experts', 'four', '--top-k', '2', '--method', 'random'], command: 'split', match: /--experts must be an integer, got 'four'/ },
  { name: 'zero --top-k', argv: () => ['split', '--model', M(), '--out', R('moe-out'), '--experts', '4', '--top-k', '0', '--method', 'random'], command: 'split', match: /--top-k must be at least 1, got 0/ },
  { name: 'more experts than FFN neurons', argv: () => ['split', '--model', M(), '--out', R('moe-out'), '--experts', '352', '--top-k', '2', '--method', 'random'], command: 'split', match: /--experts 352 .*intermediate_size 176/ },
  { name: 'non-numeric --score-scale', argv: () => SPLIT(M(), '--score-scale', 'big'), command: 'split', match: /--score-scale must be a number, got 'big'/ },
  { name: 'unknown --gate-init', argv: () => SPLIT(M(), '--gate-init', 'ones'), command: 'split', match: /--gate-init must be one of .*got 'ones'/ },
  { name: '--recalibrate without carve', argv: () => SPLIT(M(), '--recalibrate'), command: 'split', match: /--recalibrate applies to --method carve only \(got --method random\)/ },
  { name: '--drop-ratio above 1', argv: () => ['split', '--model', M(), '--out', R('moe-out'), '--experts', '4', '--top-k', '2', '--method', 'drop-upcycle', '--drop-ratio', '1.5'], command: 'split', match: /--drop-ratio must be at most 1, got 1\.5/ },
  { name: '--gate-init ridge without --data', argv: () => SPLIT(M(), '--gate-init', 'ridge'), command: 'split', match: /--gate-init ridge needs calibration data/ },
  { name: 'calibration --data that does not exist', argv: () => ['split', '--model', M(), '--out', R('moe-out'), '--experts', '4', '--top-k', '2', '--method', 'graph', '--data', R('nope')], command: 'split', match: /--data .*nope: .*does not exist/ },
  { name: 'calibration --data that is a model folder', argv: () => ['split', '--model', M(), '--out', R('moe-out'), '--experts', '4', '--top-k', '2', '--method', 'graph', '--data', M()], command: 'split', match: /llama_moe_dataset\.json: cannot read packed dataset manifest/ },
  { name: 'init --vocab-size 0', argv: () => ['init', '--preset', 'tiny', '--out', R('init-out'), '--vocab-size', '0'], command: 'init', match: /--vocab-size must be at least/ },
  { name: 'init --layers -1', argv: () => ['init', '--preset', 'tiny', '--out', R('init-out'), '--layers', '-1'], command: 'init', match: /--layers must be at least 1, got -1/ },
  { name: 'init --dtype float8', argv: () => ['init', '--preset', 'tiny', '--out', R('init-out'), '--dtype', 'float8'], command: 'init', match: /--dtype must be one of .*got 'float8'/ },
  { name: 'init --max-shard-size 12XB', argv: () => ['init', '--preset', 'tiny', '--out', R('init-out'), '--max-shard-size', '12XB'], command: 'init', match: /--max-shard-size.*12XB/ },
  { name: 'logits with non-numeric tokens', argv: () => ['logits', '--model', M(), '--tokens', '1,two', '--out', R('l.npy')], command: 'logits', match: /--tokens.*'two'/ },
  // Data inputs.
  { name: 'data prepare --seq-len 0', argv: () => ['data', 'prepare', '--input', R('corpus'), '--tokenizer', M(), '--seq-len', '0', '--out', R('packed-out')], command: 'data prepare', match: /--seq-len must be at least 1, got 0/ },
  { name: 'data prepare --seq-len abc', argv: () => ['data', 'prepare', '--input', R('corpus'), '--tokenizer', M(), '--seq-len', 'abc', '--out', R('packed-out')], command: 'data prepare', match: /--seq-len must be an integer, got 'abc'/ },
  { name: 'data prepare --remainder sometimes', argv: () => PREP('--remainder', 'sometimes'), command: 'data prepare', match: /--remainder must be one of drop, pad, keep, got 'sometimes'/ },
  { name: 'data prepare with a broken tokenizer.json', argv: () => ['data', 'prepare', '--input', R('corpus'), '--tokenizer', R('tok-broken'), '--seq-len', '8', '--out', R('packed-out')], command: 'data prepare', match: /tok-broken\/tokenizer\.json: .*JSON/ },
  { name: 'data prepare of a JSONL with a broken line', argv: () => ['data', 'prepare', '--input', R('bad-jsonl'), '--tokenizer', M(), '--seq-len', '8', '--out', R('packed-out')], command: 'data prepare', match: /a\.jsonl.*(line|row) 2/ },
  { name: 'data prepare of a corrupt Parquet file', argv: () => ['data', 'prepare', '--input', R('bad-parquet'), '--tokenizer', M(), '--seq-len', '8', '--out', R('packed-out')], command: 'data prepare', match: /a\.parquet: not a readable Parquet file/ },
  { name: 'data prepare of a corrupt Arrow file', argv: () => ['data', 'prepare', '--input', R('bad-arrow'), '--tokenizer', M(), '--seq-len', '8', '--out', R('packed-out')], command: 'data prepare', match: /a\.arrow: not an Arrow IPC file or stream/ },
  { name: 'data prepare without the text column', argv: () => ['data', 'prepare', '--input', R('no-text-column'), '--tokenizer', M(), '--seq-len', '8', '--out', R('packed-out')], command: 'data prepare', match: /a\.jsonl.*"text"/ },
  { name: 'data prepare into a path under a regular file', argv: () => ['data', 'prepare', '--input', R('corpus'), '--tokenizer', M(), '--seq-len', '8', '--out', R('regular-file', 'sub')], command: 'data prepare', match: /regular-file.*(is a file, not a folder|cannot be created)/ },
  // Files where folders belong and the other way round.
  { name: 'train --config that is a directory', argv: () => ['train', '--config', R('a-directory.yaml')], command: 'train', match: /a-directory\.yaml: is a folder, not a config file/ },
  { name: 'train --config that does not exist', argv: () => ['train', '--config', R('nope.yaml')], command: 'train', match: /nope\.yaml: .*does not exist/ },
  { name: 'eval --task that does not exist', argv: () => ['eval', '--model', M(), '--task', R('nope.jsonl')], command: 'eval', match: /nope\.jsonl: .*does not exist/ },
  { name: 'merge-experts of a missing model', argv: () => ['merge-experts', '--model', R('nope'), '--out', R('dense-out')], command: 'merge-experts', match: /nope: model folder does not exist/ },
  { name: 'split --out under a regular file', argv: () => ['split', '--model', M(), '--out', R('regular-file', 'moe'), '--experts', '4', '--top-k', '2', '--method', 'random'], command: 'split', match: /regular-file.*(is a file, not a folder|cannot be created)/ },
];

function expectOneLine(r: { code: number; stdout: string; stderr: string }, command: string, match: RegExp): void {
  expect(r.code, r.stderr).not.toBe(0);
  expect([1, 2], r.stderr).toContain(r.code);
  const lines = r.stderr.split('\n');
  expect(lines.length, r.stderr).toBe(2); // one line + the final newline
  expect(lines[1]).toBe('');
  const line = lines[0]!;
  expect(line.startsWith(`llama-moe ${command}: `), line).toBe(true);
  expect(line).toMatch(match);
  expect(line).not.toMatch(/\bat .*:\d+:\d+/);
  expect(line).not.toMatch(/TypeError|RangeError|SyntaxError|undefined|\[object Object\]/);
}

describe('bad input matrix', () => {
  test('the matrix is large enough', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
  });

  test.each(CASES)('$name', async (c) => {
    const before = listTree(root);
    const r = await cli(c.argv());
    expectOneLine(r, c.command, c.match);
    expect(listTree(root)).toEqual(before);
  });
});

describe('file systems that refuse writes', () => {
  it('reports how it tests (mount may be refused in some sandboxes)', () => {
    // Informational: the two tests below run only when tmpfs mounts work.
    expect(typeof canMountFull).toBe('boolean');
    if (!canMountFull) console.warn('bad-input-matrix: cannot mount a tmpfs here; the full-disk and read-only tests are skipped');
  });

  it.runIf(process.platform === 'linux')('init into a full disk (256 KB tmpfs): one line, nothing left behind', async (ctx) => {
    if (!canMountFull) return ctx.skip();
    const r = await cli(['init', '--preset', 'tiny', '--out', path.join(fullDisk, 'tiny'), '-q']);
    expectOneLine(r, 'init', /ENOSPC|no space left/i);
    expect(fs.readdirSync(fullDisk)).toEqual([]);
  });

  it.runIf(process.platform === 'linux')('split into a full disk (256 KB tmpfs): one line, nothing left behind', async (ctx) => {
    if (!canMountFull) return ctx.skip();
    const r = await cli(['split', '--model', M(), '--out', path.join(fullDisk, 'moe'), '--experts', '4', '--top-k', '2', '--method', 'random', '-q']);
    // Caught by the up-front size check (split-size-check.ts) before anything is written.
    expectOneLine(r, 'split', /the output needs about [\d.]+ \w?B, and .* has [\d.]+ \w?B free/);
    expect(fs.readdirSync(fullDisk)).toEqual([]);
  });

  it.runIf(process.platform === 'linux')('data prepare into a full disk: one line, nothing left behind', async (ctx) => {
    if (!canMountFull) return ctx.skip();
    // Fill the disk but for a few bytes first, so even the small dataset does not fit.
    const filler = path.join(fullDisk, '.filler');
    try {
      fs.writeFileSync(filler, new Uint8Array(256 * 1024));
    } catch {
      /* ENOSPC expected: the filler takes what there is */
    }
    try {
      const r = await cli(['data', 'prepare', '--input', R('corpus'), '--tokenizer', M(), '--seq-len', '8', '--out', path.join(fullDisk, 'packed'), '-q']);
      expectOneLine(r, 'data prepare', /ENOSPC|no space left/i);
      expect(fs.readdirSync(fullDisk)).toEqual(['.filler']);
    } finally {
      fs.rmSync(filler, { force: true });
    }
  });

  it.runIf(process.platform === 'linux')('init into a read-only mount: one line, nothing written', async (ctx) => {
    if (!canMountRo) return ctx.skip();
    const r = await cli(['init', '--preset', 'tiny', '--out', path.join(roDisk, 'tiny'), '-q']);
    expectOneLine(r, 'init', /read-only|EROFS|not writable/i);
    expect(fs.readdirSync(roDisk)).toEqual([]);
  });
});
