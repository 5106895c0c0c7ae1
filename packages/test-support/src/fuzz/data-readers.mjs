/** Fuzz targets of the data readers: JSONL / text, Parquet, Arrow (file, stream, token lists). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { applyByteEdits, byteEditsArb, isA } from './mutators.mjs';

export function dataReaderTargets({ fc, data, arrow, parquetBytes, tmp, arrowLengthLies }) {
  const targets = [];
  let ddir;
  let baseFiles;
  const dataTyped = (e) => isA(e, data.DataError);
  let ready = false;
  const readerSetup = () => {
    if (ready) return;
    ready = true;
    ddir = tmp('data');
    const texts = ['one', 'zwei ü 東京', 'three\nlines', '', 'x'.repeat(40), '🙂'];
    const { Table, vectorFromArray, Utf8, Int32, List, Field, tableToIPC } = arrow;
    const textTable = new Table({ text: vectorFromArray(texts, new Utf8()), n: vectorFromArray(texts.map((_, i) => i), new Int32()) });
    const tokTable = new Table({ input_ids: vectorFromArray([[1, 2, 3], [4], [], [5, 6]], new List(new Field('item', new Int32(), true))) });
    baseFiles = {
      jsonl: new TextEncoder().encode(texts.map((t, i) => JSON.stringify({ text: t, meta: { i } })).join('\n') + '\n'),
      text: new TextEncoder().encode(texts.join('\n\n')),
      'arrow-file': tableToIPC(textTable, 'file'),
      'arrow-stream': tableToIPC(textTable, 'stream'),
      'arrow-tokens': tableToIPC(tokTable, 'stream'),
      parquet: parquetBytes([{ name: 'text', type: 'utf8', values: texts }, { name: 'n', type: 'int32', values: texts.map((_, i) => i) }], 2),
    };
  };
  const readerRun = async (c) => {
    const ext = { jsonl: 'jsonl', text: 'txt', 'arrow-file': 'arrow', 'arrow-stream': 'arrow', 'arrow-tokens': 'arrow', parquet: 'parquet' }[c.format];
    const file = path.join(ddir, `in.${ext}`);
    // Without length lies, Arrow inputs are only truncated: a flipped or shifted length byte
    // is a length lie too, and apache-arrow allocates what it says (see arrowLengthLies).
    const edits = !arrowLengthLies && c.format.startsWith('arrow') ? c.edits.map((e) => ({ ...e, kind: 'truncate' })) : c.edits;
    fs.writeFileSync(file, applyByteEdits(baseFiles[c.format], edits));
    const start = c.resumeRow === null ? undefined : { row: c.resumeRow };
    const it =
      c.format === 'jsonl' ? data.readJsonl(file, { start: undefined, chunkBytes: 7 })
      : c.format === 'text' ? data.readText(file, { textMode: 'paragraph', chunkBytes: 5 })
      : c.format === 'arrow-tokens' ? data.readArrowTokens(file, { start })
      : c.format === 'parquet' ? data.readParquet(file, { start })
      : data.readArrow(file, { start });
    let n = 0;
    for await (const r of it) {
      if (++n > 10_000) throw new Error('reader yielded more than 10 000 records from a 1 kB file');
      if (r.text !== undefined && typeof r.text !== 'string') throw new Error(`record text is ${typeof r.text}`);
    }
  };
  const readerTarget = (name, formats) => ({
    name,
    arb: fc.record({ format: fc.constantFrom(...formats), edits: byteEditsArb(fc), resumeRow: fc.option(fc.nat({ max: 6 }), { nil: null }) }),
    setup: readerSetup,
    run: readerRun,
    allowed: dataTyped,
  });
  targets.push(readerTarget('jsonl + text readers', ['jsonl', 'text']));
  targets.push(readerTarget('parquet reader', ['parquet']));
  targets.push(readerTarget('arrow reader', ['arrow-file', 'arrow-stream', 'arrow-tokens']));
  return targets;
}
