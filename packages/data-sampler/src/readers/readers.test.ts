import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Field, List, RecordBatchFileWriter, RecordBatchStreamWriter, Table, tableFromArrays, vectorFromArray, Utf8, Int32 } from 'apache-arrow';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ReaderError } from '../errors.js';
import { collect, tempDir } from '../../test/support/helpers.js';
import { writeParquetBytes } from '@llama-moe/test-support/parquet-writer';
import { readArrow, readArrowTokens, readJsonl, readParquet, readText, readTextRecords } from './index.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir()));
afterAll(async () => cleanup());

function textTable(texts: (string | null)[], extra?: Record<string, number[]>): Table {
  const cols: Record<string, ReturnType<typeof vectorFromArray>> = { text: vectorFromArray(texts, new Utf8()) };
  if (extra) for (const [k, v] of Object.entries(extra)) cols[k] = vectorFromArray(v, new Int32());
  return new Table(cols);
}

describe('jsonl', () => {
  test('CRLF, blank lines, unicode, final line without newline; rows are line indices', async () => {
    const f = join(dir, 'a.jsonl');
    await writeFile(f, '{"text":"one"}\r\n\r\n{"text":"zwei ü 東京","meta":{"x":1}}\r\n{"text":"three\\nlines"}');
    const recs = await collect(readJsonl(f));
    expect(recs.map((r) => r.text)).toEqual(['one', 'zwei ü 東京', 'three\nlines']);
    expect(recs.map((r) => r.row)).toEqual([0, 2, 3]);
    expect(recs[0].file).toBe(f);
  });

  test('resuming at any record cursor yields exactly the remaining records (any chunk size)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: 'grapheme', maxLength: 30 }), { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 1, max: 64 }),
        fc.boolean(),
        async (texts, chunkBytes, crlf) => {
          const f = join(dir, `p-${chunkBytes}.jsonl`);
          await writeFile(f, texts.map((t) => JSON.stringify({ text: t })).join(crlf ? '\r\n' : '\n'));
          const all = await collect(readJsonl(f, { chunkBytes }));
          expect(all.map((r) => r.text)).toEqual(texts);
          for (let k = 0; k < all.length; k++) {
            const rest = await collect(readJsonl(f, { chunkBytes, start: all[k].cursor }));
            expect(rest.map((r) => r.text)).toEqual(texts.slice(k + 1));
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  test('invalid UTF-8 names file and line', async () => {
    const f = join(dir, 'bad-utf8.jsonl');
    await writeFile(f, Buffer.concat([Buffer.from('{"text":"ok"}\n{"text":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n')]));
    const err = await collect(readJsonl(f)).catch((e) => e);
    expect(err).toBeInstanceOf(ReaderError);
    expect(err.message).toContain(f);
    expect(err.message).toContain('line 2');
    expect(err.row).toBe(1);
  });

  test('bad JSON, missing column, non-string value name file, line and column', async () => {
    const f1 = join(dir, 'bad-json.jsonl');
    await writeFile(f1, '{"text":"a"}\n{"text": oops}\n');
    await expect(collect(readJsonl(f1))).rejects.toThrow(/bad-json\.jsonl: line 2: invalid JSON/);
    const f2 = join(dir, 'missing.jsonl');
    await writeFile(f2, '{"text":"a"}\n{"body":"b"}\n');
    const e2 = await collect(readJsonl(f2)).catch((e) => e);
    expect(e2.message).toMatch(/missing\.jsonl: line 2: missing column "text"/);
    expect(e2.column).toBe('text');
    const f3 = join(dir, 'num.jsonl');
    await writeFile(f3, '{"content":"a"}\n{"content":42}\n');
    await expect(collect(readJsonl(f3, { textColumn: 'content' }))).rejects.toThrow(/num\.jsonl: line 2: column "content" is number, expected a string/);
  });
});

describe('plain text', () => {
  test('document mode keeps the file verbatim; paragraph mode splits on blank lines and resumes', async () => {
    const f = join(dir, 'doc.txt');
    const body = 'Para one\r\nstill one\r\n\r\n\r\nPara two\n  \nPara three';
    await writeFile(f, body);
    const docs = await collect(readText(f));
    expect(docs).toHaveLength(1);
    expect(docs[0].text).toBe(body);
    const paras = await collect(readText(f, { textMode: 'paragraph' }));
    expect(paras.map((p) => p.text)).toEqual(['Para one\nstill one', 'Para two', 'Para three']);
    const rest = await collect(readText(f, { textMode: 'paragraph', start: paras[0].cursor }));
    expect(rest.map((p) => [p.text, p.row])).toEqual([
      ['Para two', 1],
      ['Para three', 2],
    ]);
  });

  test('invalid UTF-8 in text names the line', async () => {
    const f = join(dir, 'bad.txt');
    await writeFile(f, Buffer.concat([Buffer.from('fine\nfine\n'), Buffer.from([0xff]), Buffer.from('\n')]));
    await expect(collect(readText(f))).rejects.toThrow(/bad\.txt: line 3: invalid UTF-8/);
  });
});

describe('arrow', () => {
  const texts = Array.from({ length: 23 }, (_, i) => `doc ${i} ${'x'.repeat(i)}`);
  test('file and stream formats, several batches, resume at a row', async () => {
    // Three record batches of 10, 10, 3 rows.
    const batches = [0, 10, 20].map((s) => textTable(texts.slice(s, s + 10)).batches[0]);
    const stream = join(dir, 't.arrow');
    const file = join(dir, 't.feather');
    await writeFile(stream, RecordBatchStreamWriter.writeAll(batches).toUint8Array(true));
    await writeFile(file, RecordBatchFileWriter.writeAll(batches).toUint8Array(true));
    for (const f of [stream, file]) {
      const recs = await collect(readArrow(f));
      expect(recs.map((r) => r.text)).toEqual(texts);
      expect(recs.map((r) => r.row)).toEqual(texts.map((_, i) => i));
      for (const k of [0, 9, 10, 15, 22]) {
        const rest = await collect(readArrow(f, { start: recs[k].cursor }));
        expect(rest.map((r) => r.text)).toEqual(texts.slice(k + 1));
      }
    }
    // Dictionary-encoded strings (what tableFromArrays makes of string arrays) read the same.
    const dict = join(dir, 'dict.arrow');
    await writeFile(dict, RecordBatchStreamWriter.writeAll(tableFromArrays({ text: texts })).toUint8Array(true));
    expect((await collect(readTextRecords(dict))).map((r) => r.text)).toEqual(texts);
  });

  test('missing column, wrong type and null name file, row and column', async () => {
    const f = join(dir, 'cols.arrow');
    await writeFile(f, RecordBatchStreamWriter.writeAll(textTable(['a', null, 'c'], { n: [1, 2, 3] })).toUint8Array(true));
    const e1 = await collect(readArrow(f, { textColumn: 'content' })).catch((e) => e);
    expect(e1).toBeInstanceOf(ReaderError);
    expect(e1.message).toMatch(/cols\.arrow: missing column "content" \(columns: text, n\)/);
    await expect(collect(readArrow(f, { textColumn: 'n' }))).rejects.toThrow(/cols\.arrow: row 0: column "n" has type Int32, expected utf8/);
    const e3 = await collect(readArrow(f)).catch((e) => e);
    expect(e3.message).toMatch(/cols\.arrow: row 1: column "text" is null/);
    expect([e3.row, e3.column]).toEqual([1, 'text']);
    const junk = join(dir, 'junk.arrow');
    await writeFile(junk, 'definitely not arrow');
    await expect(collect(readArrow(junk))).rejects.toThrow(/junk\.arrow/);
  });

  test('pre-tokenised input_ids list<int32> rows read back exactly', async () => {
    const rows = [[1, 5, 6], [1], [1, 2, 3, 4, 5, 6, 7]];
    const f = join(dir, 'tok.arrow');
    const ids = vectorFromArray(rows, new List(new Field('item', new Int32(), true)));
    await writeFile(f, RecordBatchStreamWriter.writeAll(new Table({ input_ids: ids })).toUint8Array(true));
    const recs = await collect(readArrowTokens(f));
    expect(recs.map((r) => Array.from(r.inputIds))).toEqual(rows);
    expect(recs[0].inputIds).toBeInstanceOf(Int32Array);
    await expect(collect(readArrowTokens(join(dir, 'cols.arrow')))).rejects.toThrow(/missing column "input_ids"/);
    // Floats are not token ids.
    const g = join(dir, 'floats.arrow');
    await writeFile(g, RecordBatchStreamWriter.writeAll(new Table({ input_ids: vectorFromArray([[0.5]]) })).toUint8Array(true));
    await expect(collect(readArrowTokens(g))).rejects.toThrow(/floats\.arrow: row 0: column "input_ids" has type List<Float64>, expected list<int32>/);
  });
});

describe('parquet', () => {
  test('row group by row group, resume, errors (fixture from the test-only PLAIN writer)', async () => {
    const texts = Array.from({ length: 17 }, (_, i) => `parquet doc ${i} ü`);
    const f = join(dir, 'a.parquet');
    await writeFile(f, writeParquetBytes([{ name: 'text', type: 'utf8', values: texts }, { name: 'n', type: 'int32', values: texts.map((_, i) => i * 10) }], 5));
    const recs = await collect(readParquet(f));
    expect(recs.map((r) => r.text)).toEqual(texts);
    expect(recs.map((r) => r.row)).toEqual(texts.map((_, i) => i));
    for (const k of [0, 4, 5, 12, 16]) {
      const rest = await collect(readParquet(f, { start: recs[k].cursor }));
      expect(rest.map((r) => r.text)).toEqual(texts.slice(k + 1));
    }
    await expect(collect(readParquet(f, { textColumn: 'body' }))).rejects.toThrow(/a\.parquet: missing column "body" \(columns: text, n\)/);
    const e = await collect(readParquet(f, { textColumn: 'n' })).catch((x) => x);
    expect(e).toBeInstanceOf(ReaderError);
    expect(e.message).toMatch(/a\.parquet: row 0: column "n" has Parquet type INT32/);
    const junk = join(dir, 'junk.parquet');
    await writeFile(junk, 'PAR1 nope');
    await expect(collect(readParquet(junk))).rejects.toThrow(/junk\.parquet: not a readable Parquet file/);
  });
});
