/**
 * Shared reader types. Every reader streams records one at a time and can start again at a
 * `ReaderCursor`, which is how the sampler resumes mid-file without re-reading from the top.
 */

/** Where the next record starts: `row` is the 0-based record index; `offset` the byte offset for line-based files. */
export interface ReaderCursor {
  row: number;
  offset?: number;
}

/** One text document. `row` is 0-based (JSONL: the line index; tables: the row index; text: the paragraph index). */
export interface TextRecord {
  text: string;
  row: number;
  file: string;
  /** Cursor just past this record: reopening the file there yields the next record. */
  cursor: ReaderCursor;
}

/** One pre-tokenised row (an `input_ids` list<int32> cell). */
export interface TokenRecord {
  /** [L] */
  inputIds: Int32Array;
  row: number;
  file: string;
  cursor: ReaderCursor;
}

export type TextFormat = 'jsonl' | 'text' | 'arrow' | 'parquet';

export interface TextReaderOptions {
  /** Column / JSON key holding the document text. Default `text`. */
  textColumn?: string;
  /** Plain text only: one document per file (`document`, default) or per blank-line-separated paragraph. */
  textMode?: 'document' | 'paragraph';
  /** Start here instead of at the beginning (a cursor from a previous record). */
  start?: ReaderCursor;
  /** Bytes per fs read for line-based formats. Default 1 MiB. */
  chunkBytes?: number;
}
