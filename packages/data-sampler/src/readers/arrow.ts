import { open } from 'node:fs/promises';
import { RecordBatchReader, DataType, type RecordBatch, type Field } from 'apache-arrow';
import { ReaderError } from '../errors.js';
import type { ReaderCursor, TextRecord, TokenRecord } from './types.js';

/**
 * Arrow IPC, both the file format (ARROW1 magic, random access) and the stream format (what
 * Hugging Face `datasets` writes into its cache as `*.arrow`). Batches are pulled one at a time
 * through a file handle, so memory is bounded by the largest record batch.
 */
async function* batches(file: string, start: ReaderCursor | undefined): AsyncGenerator<{ batch: RecordBatch; first: number; fields: Field[] }> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    throw new ReaderError('read', file, undefined, undefined, `${file}: cannot open (${(e as Error).message}); check the path`);
  }
  try {
    let reader;
    try {
      reader = await RecordBatchReader.from(fh);
      await reader.open();
    } catch (e) {
      throw new ReaderError('read', file, undefined, undefined, `${file}: not an Arrow IPC file or stream (${(e as Error).message})`);
    }
    const skip = start?.row ?? 0;
    let first = 0;
    for await (const batch of reader) {
      const n = batch.numRows;
      if (first + n > skip) yield { batch, first, fields: reader.schema.fields };
      first += n;
    }
  } finally {
    await fh.close();
  }
}

function describe(t: DataType): string {
  return String(t);
}

function requireField(file: string, fields: Field[], column: string): Field {
  const f = fields.find((x) => x.name === column);
  if (!f) {
    throw new ReaderError('column', file, undefined, column, `${file}: missing column "${column}" (columns: ${fields.map((x) => x.name).join(', ') || 'none'}); set textColumn`);
  }
  return f;
}

export async function* readArrow(file: string, opts: { textColumn?: string; start?: ReaderCursor } = {}): AsyncGenerator<TextRecord> {
  const column = opts.textColumn ?? 'text';
  const skip = opts.start?.row ?? 0;
  for await (const { batch, first, fields } of batches(file, opts.start)) {
    const f = requireField(file, fields, column);
    const t = f.type;
    const isText = DataType.isUtf8(t) || DataType.isLargeUtf8(t) || (DataType.isDictionary(t) && (DataType.isUtf8(t.dictionary) || DataType.isLargeUtf8(t.dictionary)));
    if (!isText) {
      throw new ReaderError('column', file, first, column, `${file}: row ${first}: column "${column}" has type ${describe(t)}, expected utf8 text`);
    }
    const vec = batch.getChild(column)!;
    for (let i = Math.max(0, skip - first); i < batch.numRows; i++) {
      const v = vec.get(i);
      const row = first + i;
      if (typeof v !== 'string') {
        throw new ReaderError('column', file, row, column, `${file}: row ${row}: column "${column}" is ${v === null ? 'null' : typeof v}, expected a string`);
      }
      yield { text: v, row, file, cursor: { row: row + 1 } };
    }
  }
}

/** Pre-tokenised rows: an `input_ids` list<int> column, returned as Int32Array. */
export async function* readArrowTokens(file: string, opts: { column?: string; start?: ReaderCursor } = {}): AsyncGenerator<TokenRecord> {
  const column = opts.column ?? 'input_ids';
  const skip = opts.start?.row ?? 0;
  for await (const { batch, first, fields } of batches(file, opts.start)) {
    const f = requireField(file, fields, column);
    const t = f.type;
    const ok = (DataType.isList(t) || DataType.isFixedSizeList(t) || DataType.isLargeList(t)) && DataType.isInt(t.children[0].type);
    if (!ok) {
      throw new ReaderError('column', file, first, column, `${file}: row ${first}: column "${column}" has type ${describe(t)}, expected list<int32>`);
    }
    const vec = batch.getChild(column)!;
    for (let i = Math.max(0, skip - first); i < batch.numRows; i++) {
      const row = first + i;
      const v = vec.get(i);
      if (v === null || v === undefined) {
        throw new ReaderError('column', file, row, column, `${file}: row ${row}: column "${column}" is null, expected list<int32>`);
      }
      const arr = v.toArray() as ArrayLike<number | bigint>;
      let ids: Int32Array;
      if (arr instanceof Int32Array) ids = Int32Array.from(arr);
      else {
        ids = new Int32Array(arr.length);
        for (let k = 0; k < arr.length; k++) ids[k] = Number(arr[k]);
      }
      yield { inputIds: ids, row, file, cursor: { row: row + 1 } };
    }
  }
}
