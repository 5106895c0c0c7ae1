import { execFileSync } from 'node:child_process';
import { readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DataType, tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ReaderError } from './errors.js';
import { packDocuments } from './pack.js';
import { readArrowTokens } from './readers/arrow.js';
import { MultiDomainSampler } from './sampler.js';
import type { DomainSource } from './source.js';
import { collect, tempDir, tok } from '../test/support/helpers.js';
import { MANIFEST_NAME, sourcesFromPackedDataset, writePackedDataset, type PackedDatasetManifest } from './writer.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir()));
afterAll(async () => cleanup());

const docsA = Array.from({ length: 40 }, (_, i) => `alpha document number ${i}${'!'.repeat(i % 7)}`);
const docsB = Array.from({ length: 25 }, (_, i) => `def f${i}(x):\n    return x * ${i}`);

function hasPyarrow(): boolean {
  try {
    execFileSync('python3', ['-c', 'import pyarrow'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('writePackedDataset', () => {
  test('Arrow IPC streams with HF-readable schema, manifest, exact packed rows', async () => {
    const out = join(dir, 'packed');
    const sources: DomainSource[] = [
      { name: 'alpha', documents: docsA },
      { name: 'code', documents: docsB },
    ];
    const m = await writePackedDataset({ outDir: out, sources, tokenizer: tok, seqLen: 16, remainder: 'pad', shuffleBuffer: 1, shardBlocks: 20, batchRows: 7 });
    const manifest = JSON.parse(await readFile(join(out, MANIFEST_NAME), 'utf8')) as PackedDatasetManifest;
    expect(manifest).toEqual(m);
    expect(manifest.seq_len).toBe(16);
    expect(manifest.tokenizer_hash).toBe('byte-level-v1');
    for (const [name, docs] of [
      ['alpha', docsA],
      ['code', docsB],
    ] as const) {
      const expected = packDocuments(tok, docs, { seqLen: 16, remainder: 'pad' });
      const info = manifest.domains[name];
      expect(info.documents).toBe(docs.length);
      expect(info.tokens).toBe(docs.reduce((n, d) => n + tok.encode(d).length + 1, 0));
      expect(info.blocks).toBe(expected.length);
      expect(info.files.length).toBe(Math.ceil(expected.length / 20));
      // Read back with apache-arrow's own IPC reader, independently of our reader.
      const rows: number[][] = [];
      const masks: number[][] = [];
      for (const f of info.files) {
        const bytes = await readFile(join(out, f));
        expect(bytes.subarray(0, 4)).toEqual(Buffer.from([0xff, 0xff, 0xff, 0xff])); // IPC stream continuation marker
        const t = tableFromIPC(bytes);
        expect(t.schema.fields.map((x) => x.name)).toEqual(['input_ids', 'domain', 'attention_mask']);
        expect(DataType.isList(t.schema.fields[0].type) && DataType.isInt(t.schema.fields[0].type.children[0].type)).toBe(true);
        expect(String(t.schema.fields[0].type)).toBe('List<Int32>');
        expect(String(t.schema.fields[1].type)).toBe('Utf8');
        expect(JSON.parse(t.schema.metadata.get('huggingface')!).info.features.input_ids._type).toBe('Sequence');
        for (let i = 0; i < t.numRows; i++) {
          expect(t.getChild('domain')!.get(i)).toBe(name);
          rows.push(Array.from(t.getChild('input_ids')!.get(i).toArray() as Int32Array));
          masks.push(Array.from(t.getChild('attention_mask')!.get(i).toArray() as Int8Array));
        }
        // And with this package's reader.
        const recs = await collect(readArrowTokens(join(out, f)));
        expect(recs.length).toBe(t.numRows);
      }
      expect(rows).toEqual(expected.map((b) => Array.from(b.inputIds)));
      expect(masks).toEqual(expected.map((b) => (b.lossMask ? Array.from(b.lossMask) : new Array(16).fill(1))));
      expect(info.padded_tokens).toBe(masks.flat().filter((x) => x === 0).length);
    }
    if (hasPyarrow()) {
      // Optional cross-check from Python (pyarrow is not a dependency; skipped silently when absent).
      const py = `import pyarrow as pa, sys\nr = pa.ipc.open_stream(sys.argv[1]).read_all()\nprint(r.num_rows, r.schema.field('input_ids').type)`;
      const outp = execFileSync('python3', ['-c', py, join(out, manifest.domains.alpha.files[0])]).toString();
      expect(outp).toMatch(/^20 list<item: int32>/);
    }
    // The packed dataset feeds the sampler directly (pre-tokenised rows, no BOS re-added).
    const { sources: packed } = await sourcesFromPackedDataset(out, { tokenizer: tok });
    const s = new MultiDomainSampler({ sources: packed, seqLen: 16, weights: { alpha: 1, code: 0 }, shuffleBuffer: 1, shuffleFiles: false });
    const b = await s.nextBatch(3);
    const first = packDocuments(tok, docsA, { seqLen: 16 });
    expect(Array.from(b.inputIds)).toEqual([...first[0].inputIds, ...first[1].inputIds, ...first[2].inputIds]);
    await s.close();
    await expect(sourcesFromPackedDataset(out, { tokenizer: { ...tok, hash: 'x' } })).rejects.toThrow(/re-pack the data/);
  });

  test('a thrown error leaves nothing behind; existing output needs overwrite', async () => {
    const root = join(dir, 'atomic');
    await mkdir(root);
    const bad = join(root, 'bad.jsonl');
    await writeFile(bad, '{"text":"fine"}\n{"text":"fine"}\n{"txt":"oops"}\n');
    const out = join(root, 'ds');
    const err = await writePackedDataset({
      outDir: out,
      sources: [
        { name: 'good', documents: docsA },
        { name: 'broken', files: [bad] },
      ],
      tokenizer: tok,
      seqLen: 4,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(ReaderError);
    expect(err.message).toMatch(/bad\.jsonl: line 3: missing column "text"/);
    expect((await readdir(root)).sort()).toEqual(['bad.jsonl']);

    await writePackedDataset({ outDir: out, sources: [{ name: 'good', documents: docsA }], tokenizer: tok, seqLen: 4 });
    await expect(writePackedDataset({ outDir: out, sources: [{ name: 'good', documents: docsB }], tokenizer: tok, seqLen: 4 })).rejects.toThrow(/already exists; pass overwrite: true/);
    const m2 = await writePackedDataset({ outDir: out, sources: [{ name: 'other', documents: docsB }], tokenizer: tok, seqLen: 4, overwrite: true });
    expect(Object.keys(m2.domains)).toEqual(['other']);
    expect((await readdir(out)).sort()).toEqual([MANIFEST_NAME, 'other']);
    expect((await readdir(root)).sort()).toEqual(['bad.jsonl', 'ds']);
    await expect(writePackedDataset({ outDir: join(root, 'x'), sources: [{ name: '../evil', documents: ['a'] }], tokenizer: tok, seqLen: 4 })).rejects.toThrow(/not a safe folder name/);
  });
});
