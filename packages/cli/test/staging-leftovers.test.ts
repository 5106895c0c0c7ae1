/**
 * Staging folders a killed run leaves beside its output are removed by the next run writing the
 * same target (and reported); those of a live process are left alone.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cli, tempDir, tinyModel } from './helpers.js';
import { staleStaging } from '../src/staging-leftovers.js';

let root: string, model: string;
const DEAD = 999_999_999; // beyond pid_max: never a live process

beforeAll(async () => {
  root = tempDir();
  model = await tinyModel(root);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function leftover(name: string): string {
  const p = path.join(root, name);
  fs.mkdirSync(p);
  fs.writeFileSync(path.join(p, 'model.safetensors.tmp-1'), 'half');
  return p;
}

describe('staging leftovers of killed runs', () => {
  test('split and merge-experts remove .NAME.partial-<pid>… of a dead process and say so', async () => {
    const a = leftover(`.moe.partial-${DEAD}-1733500000000`);
    const r = await cli(['split', '--model', model, '--out', path.join(root, 'moe'), '--experts', '4', '--top-k', '2', '--method', 'random', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(`llama-moe split: removed ${a}, left half-written by an interrupted run\n`);
    expect(fs.existsSync(a)).toBe(false);
    const b = leftover(`.merged.partial-${DEAD}-1733500000001`);
    const m = await cli(['merge-experts', '--model', path.join(root, 'moe'), '--out', path.join(root, 'merged'), '--quiet']);
    expect(m.code, m.stderr).toBe(0);
    expect(fs.existsSync(b)).toBe(false);
  });

  test('data prepare removes .NAME.tmp-<pid>-<hex>; logits removes NAME.tmp-<pid>', async () => {
    const corpus = path.join(root, 'corpus', 'book');
    fs.mkdirSync(corpus, { recursive: true });
    fs.writeFileSync(path.join(corpus, 'a.jsonl'), JSON.stringify({ text: 'Once upon a time there was a quiet river. '.repeat(20) }) + '\n');
    const d = leftover(`.packed.tmp-${DEAD}-0a1b2c3d`);
    const r = await cli(['data', 'prepare', '--input', path.join(root, 'corpus'), '--tokenizer', model, '--seq-len', '16', '--out', path.join(root, 'packed'), '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`llama-moe data prepare: removed ${d}`);
    expect(fs.existsSync(d)).toBe(false);
    const f = path.join(root, `l.npy.tmp-${DEAD}`);
    fs.writeFileSync(f, 'half');
    const l = await cli(['logits', '--model', model, '--tokens', '1,5', '--out', path.join(root, 'l.npy'), '--quiet']);
    expect(l.code, l.stderr).toBe(0);
    expect(fs.existsSync(f)).toBe(false);
  });

  test('the staging folder of a live process, and look-alike names of other targets, are kept', () => {
    const live = leftover(`.x.partial-${process.ppid}-1`);
    const other = leftover(`.xy.partial-${DEAD}-1`);
    expect(staleStaging(path.join(root, 'x'))).toEqual([]);
    expect(fs.existsSync(live) && fs.existsSync(other)).toBe(true);
    expect(staleStaging(path.join(root, 'xy'))).toEqual([other]);
  });
});
