/** Real text: the Brown Corpus through the CLI, and the shipped Brown model measured on its test split. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BROWN_DOMAINS, sourcesFromPackedDataset, readArrowTokens } from '@llama-moe/data-sampler';
import { brownModelDir } from '../src/demo/assets.js';
import { cli, listTree, tempDir } from './helpers.js';

let root: string;
let testSplit: string;
beforeAll(async () => {
  root = tempDir('llama-moe-brown-');
  testSplit = path.join(root, 'brown-test');
  const r = await cli(['data', 'prepare', '--preset', 'brown', '--split', 'test', '--tokenizer', brownModelDir(), '--seq-len', '128', '--out', testSplit, '--quiet']);
  expect(r.code, r.stderr).toBe(0);
}, 120_000);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Every input_ids row of a packed dataset, per domain. */
async function packedRows(dir: string): Promise<Record<string, Int32Array[]>> {
  const { sources } = await sourcesFromPackedDataset(dir);
  const out: Record<string, Int32Array[]> = {};
  for (const s of sources) {
    out[s.name] = [];
    for (const f of s.files ?? []) for await (const r of readArrowTokens(f)) out[s.name]!.push(Int32Array.from(r.inputIds));
  }
  return out;
}

describe('the Brown Corpus through the CLI', () => {
  test('data inspect --preset brown: 15 genres, documents per split', async () => {
    const r = await cli(['data', 'inspect', '--preset', 'brown', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.domains.map((d: { name: string }) => d.name)).toEqual(BROWN_DOMAINS);
    expect(j.total.train.documents + j.total.validation.documents + j.total.test.documents).toBe(500);
    for (const d of j.domains) for (const s of ['train', 'validation', 'test']) expect(d[s].documents, `${d.name}/${s}`).toBeGreaterThan(0);
    const text = await cli(['data', 'inspect', '--preset', 'brown']);
    expect(text.stdout).toMatch(/fiction-science\s+Fiction: science\s+4 \(/);
  });

  test('data prepare --preset brown: one domain per genre; the same bytes twice', async () => {
    const again = path.join(root, 'brown-test-again');
    const r = await cli(['data', 'prepare', '--preset', 'brown', '--split', 'test', '--tokenizer', brownModelDir(), '--seq-len', '128', '--out', again, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const files = listTree(testSplit).filter((f) => f.endsWith('.arrow') || f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(BROWN_DOMAINS.length);
    expect(listTree(again).filter((f) => f.endsWith('.arrow') || f.endsWith('.json'))).toEqual(files);
    for (const f of files) expect(fs.readFileSync(path.join(again, f)).equals(fs.readFileSync(path.join(testSplit, f))), f).toBe(true);
    expect(Object.keys(await packedRows(testSplit)).sort()).toEqual([...BROWN_DOMAINS].sort());
  }, 120_000);

  test('usage errors name the options', async () => {
    const out = path.join(root, 'never');
    const cases: [string[], RegExp][] = [
      [['data', 'prepare', '--preset', 'brown', '--tokenizer', brownModelDir(), '--seq-len', '64', '--out', out], /--preset brown needs --split/],
      [['data', 'prepare', '--input', root, '--preset', 'brown', '--split', 'test', '--tokenizer', brownModelDir(), '--seq-len', '64', '--out', out], /--input and --preset exclude each other/],
      [['data', 'prepare', '--split', 'test', '--tokenizer', brownModelDir(), '--seq-len', '64', '--out', out], /missing --input \(or --preset\)/],
      [['data', 'prepare', '--preset', 'brown', '--split', 'dev', '--tokenizer', brownModelDir(), '--seq-len', '64', '--out', out], /--split/],
      [['data', 'inspect'], /missing DIR \(or --preset\)/],
    ];
    for (const [argv, re] of cases) {
      const r = await cli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr, argv.join(' ')).toMatch(re);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('the shipped Brown model has learned English', () => {
  test('eval on the test split: perplexity far below the best unigram model of the same tokens', async () => {
    // eval covers the whole test split by default (every block the unigram below is fitted on).
    const r = await cli(['eval', '--model', brownModelDir(), '--data', testSplit, '--batch-size', '16', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { metrics } = JSON.parse(r.stdout) as { metrics: Record<string, { ppl: number; tokens: number }> };
    // A unigram model fitted on the test tokens themselves: no unigram model can do better on them.
    const rows = Object.values(await packedRows(testSplit)).flat();
    const counts = new Map<number, number>();
    let n = 0;
    for (const row of rows) for (let t = 1; t < row.length; t++) { counts.set(row[t]!, (counts.get(row[t]!) ?? 0) + 1); n++; }
    let nll = 0;
    for (const c of counts.values()) nll -= c * Math.log(c / n);
    const unigram = Math.exp(nll / n);
    expect(unigram).toBeGreaterThan(300);
    expect(metrics.overall!.ppl).toBeLessThan(unigram / 4);
    for (const d of BROWN_DOMAINS) expect(metrics[d]!.ppl, d).toBeLessThan(unigram / 2);
  }, 300_000);
});
