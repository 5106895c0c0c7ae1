import { open } from 'node:fs/promises';
import { Message, RecordBatchReader, DataType, type RecordBatch, type Field } from 'apache-arrow';
import { ReaderError } from '../errors.js';
import { Footer } from 'apache-arrow/ipc/metadata/file';
import { IpcCheckError, checkFooter, decodeCheckedMessage } from './arrow-ipc-check.js';
import type { ReaderCursor, TextRecord, TokenRecord } from './types.js';

/** "ARROW1" then 2 bytes of padding open the file format; "ARROW1" closes it after the footer. */
const ARROW_MAGIC = Buffer.from('ARROW1', 'latin1');
/** Continuation marker that precedes each message's metadata length since Arrow 0.15. */
const CONTINUATION = 0xffffffff;

type Handle = Awaited<ReturnType<typeof open>>;

/** Exactly `n` bytes at `pos`, or null when the file ends first (never reads past it). */
async function readExact(fh: Handle, pos: number, n: number): Promise<Uint8Array | null> {
  /** [n] */
  const buf = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const { bytesRead } = await fh.read(buf, got, n - got, pos + got);
    if (bytesRead === 0) return null;
    got += bytesRead;
  }
  return buf;
}

/**
 * The file's IPC messages (schema, dictionaries, record batches), each as its raw bytes
 * (prefix + metadata + body) after its lengths were checked against the file size, so
 * apache-arrow only ever sees messages whose every length fits the bytes that exist. The file
 * format is read as the stream it embeds (bytes 8 .. footer): the footer's block table is not
 * needed for a front-to-back read, and not trusting it removes a whole class of lying offsets.
 */
async function* checkedMessages(fh: Handle): AsyncGenerator<Uint8Array> {
  const size = (await fh.stat()).size;
  let pos = 0;
  let end = size;
  /** File format: a schema message rebuilt from the footer, for writers (apache-arrow's) that keep it only there. */
  let footerSchema: Uint8Array | null = null;
  const head = size >= 8 ? await readExact(fh, 0, 8) : null;
  if (head && Buffer.from(head.subarray(0, 6)).equals(ARROW_MAGIC)) {
    const tail = size >= 18 ? await readExact(fh, size - 10, 10) : null;
    if (!tail || !Buffer.from(tail.subarray(4, 10)).equals(ARROW_MAGIC)) throw new IpcCheckError('Arrow file format without its closing ARROW1 magic (truncated?)');
    const footerLen = new DataView(tail.buffer, tail.byteOffset, 4).getInt32(0, true);
    end = size - 10 - footerLen;
    if (footerLen < 0 || end < 8) throw new IpcCheckError(`footer length ${footerLen} does not fit a ${size}-byte file`);
    const footer = (await readExact(fh, end, footerLen))!;
    checkFooter(footer);
    const meta = Message.encode(Message.from(Footer.decode(footer).schema));
    /** [8 + padded metadata] continuation marker, length, flatbuffer, zero padding to 8 bytes */
    const framed = new Uint8Array(8 + ((meta.length + 7) & ~7));
    const dv = new DataView(framed.buffer);
    dv.setUint32(0, CONTINUATION, true);
    dv.setInt32(4, framed.length - 8, true);
    framed.set(meta, 8);
    footerSchema = framed;
    pos = 8;
  }
  while (pos < end) {
    if (end - pos < 4) throw new IpcCheckError(`${end - pos} stray bytes at offset ${pos}`);
    const first = (await readExact(fh, pos, 4))!;
    let word = new DataView(first.buffer).getUint32(0, true);
    let prefix = 4;
    if (word === CONTINUATION) {
      if (end - pos < 8) throw new IpcCheckError(`message at offset ${pos} ends after its continuation marker`);
      const second = (await readExact(fh, pos + 4, 4))!;
      word = new DataView(second.buffer).getUint32(0, true);
      prefix = 8;
    }
    if (word === 0) break; // end-of-stream marker
    const metaLen = word;
    if (metaLen > end - pos - prefix) throw new IpcCheckError(`message at offset ${pos} claims ${metaLen} metadata bytes, only ${end - pos - prefix} remain`);
    const meta = (await readExact(fh, pos + prefix, metaLen))!;
    const bodyStart = pos + prefix + metaLen;
    const msg = decodeCheckedMessage(meta, end - bodyStart);
    if (footerSchema) {
      if (!msg.isSchema()) yield footerSchema;
      footerSchema = null;
    }
    const body = Number(msg.bodyLength);
    const whole = await readExact(fh, pos, prefix + metaLen + body);
    if (!whole) throw new IpcCheckError(`message at offset ${pos} runs past the end of the file`);
    yield whole;
    pos = bodyStart + body;
  }
  // A file with a schema but no record batches.
  if (footerSchema) yield footerSchema;
}

function readError(file: string, row: number | undefined, e: unknown): ReaderError {
  if (e instanceof ReaderError) return e;
  const at = row === undefined ? '' : ` at row ${row}`;
  return new ReaderError('read', file, row, undefined, `${file}: damaged Arrow IPC data${at} (${(e as Error)?.message ?? String(e)}); re-create or re-download the file`);
}

/**
 * Arrow IPC, both the file format (ARROW1 magic, random access) and the stream format (what
 * Hugging Face `datasets` writes into its cache as `*.arrow`). Batches are pulled one at a time
 * from checked messages, so memory is bounded by the largest record batch, and any failure
 * while decoding becomes a ReaderError naming the file and the first row of the batch.
 */
async function* batches(file: string, start: ReaderCursor | undefined): AsyncGenerator<{ batch: RecordBatch; first: number; fields: Field[] }> {
  let fh: Handle;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    throw new ReaderError('read', file, undefined, undefined, `${file}: cannot open (${(e as Error).message}); check the path`);
  }
  const skip = start?.row ?? 0;
  let first = 0;
  let opened = false;
  try {
    let reader;
    try {
      reader = await RecordBatchReader.from(checkedMessages(fh));
      await reader.open();
      if (!reader.schema) throw new Error('no schema message');
      opened = true;
    } catch (e) {
      throw new ReaderError('read', file, undefined, undefined, `${file}: not an Arrow IPC file or stream (${(e as Error)?.message ?? String(e)})`);
    }
    for await (const batch of reader) {
      const n = batch.numRows;
      if (first + n > skip) yield { batch, first, fields: reader.schema.fields };
      first += n;
    }
  } catch (e) {
    throw opened ? readError(file, first, e) : e;
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
      const row = first + i;
      let v: unknown;
      try {
        v = vec.get(i);
      } catch (e) {
        throw readError(file, row, e);
      }
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
    const ok = (DataType.isList(t) || DataType.isFixedSizeList(t) || DataType.isLargeList(t)) && DataType.isInt(t.children[0]!.type);
    if (!ok) {
      throw new ReaderError('column', file, first, column, `${file}: row ${first}: column "${column}" has type ${describe(t)}, expected list<int32>`);
    }
    const vec = batch.getChild(column)!;
    for (let i = Math.max(0, skip - first); i < batch.numRows; i++) {
      const row = first + i;
      let ids: Int32Array;
      try {
        const v = vec.get(i);
        if (v === null || v === undefined) {
          throw new ReaderError('column', file, row, column, `${file}: row ${row}: column "${column}" is null, expected list<int32>`);
        }
        const arr = v.toArray() as ArrayLike<number | bigint>;
        if (arr instanceof Int32Array) ids = Int32Array.from(arr);
        else {
          /** [L] */
          ids = new Int32Array(arr.length);
          for (let k = 0; k < arr.length; k++) ids[k] = Number(arr[k]);
        }
      } catch (e) {
        throw readError(file, row, e);
      }
      yield { inputIds: ids, row, file, cursor: { row: row + 1 } };
    }
  }
}
