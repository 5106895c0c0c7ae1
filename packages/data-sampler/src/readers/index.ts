import { DataError } from '../errors.js';
import { readArrow } from './arrow.js';
import { readJsonl } from './jsonl.js';
import { readParquet } from './parquet.js';
import { readText } from './text.js';
import type { TextFormat, TextReaderOptions, TextRecord } from './types.js';

export type { ReaderCursor, TextRecord, TokenRecord, TextFormat, TextReaderOptions } from './types.js';
export { readJsonl } from './jsonl.js';
export { readText } from './text.js';
export { readArrow, readArrowTokens } from './arrow.js';
export { readParquet } from './parquet.js';
export { readLines } from './lines.js';

/** Format from the file name: .jsonl/.json/.ndjson, .txt/.md, .arrow/.ipc/.feather, .parquet. */
export function detectFormat(file: string): TextFormat {
  const f = file.toLowerCase();
  if (/\.(jsonl|ndjson|json)$/.test(f)) return 'jsonl';
  if (/\.(txt|md|text)$/.test(f)) return 'text';
  if (/\.(arrow|ipc|feather|arrows)$/.test(f)) return 'arrow';
  if (/\.parquet$/.test(f)) return 'parquet';
  throw new DataError('argument', `${file}: cannot tell the format from the extension; pass format: 'jsonl' | 'text' | 'arrow' | 'parquet'`);
}

/** Streams text records from any supported file. */
export function readTextRecords(file: string, opts: TextReaderOptions & { format?: TextFormat } = {}): AsyncGenerator<TextRecord> {
  const format = opts.format ?? detectFormat(file);
  switch (format) {
    case 'jsonl':
      return readJsonl(file, opts);
    case 'text':
      return readText(file, opts);
    case 'arrow':
      return readArrow(file, opts);
    case 'parquet':
      return readParquet(file, opts);
    default:
      throw new DataError('argument', `format: unknown format "${String(format)}"; use 'jsonl' | 'text' | 'arrow' | 'parquet'`);
  }
}
