/**
 * Typed errors. Every message is one line that names the file / row / column / domain / option
 * involved and what to do, so a failure deep inside a training run is actionable.
 */
export type DataErrorCode =
  | 'read' // a reader could not decode a file (bad UTF-8, bad JSON, bad Arrow / Parquet)
  | 'column' // a column is missing or has the wrong type
  | 'weights' // invalid domain weights
  | 'domain' // unknown or empty domain
  | 'state' // a resume state that does not match the sampler's inputs
  | 'argument' // a bad option value
  | 'write'; // the writer failed (nothing was left behind)

export class DataError extends Error {
  readonly code: DataErrorCode;
  constructor(code: DataErrorCode, message: string) {
    super(message);
    this.name = 'DataError';
    this.code = code;
  }
}

/** A reader failure; `file` and `row` (0-based) locate the record, `column` names the field. */
export class ReaderError extends DataError {
  readonly file: string;
  readonly row: number | undefined;
  readonly column: string | undefined;
  constructor(code: 'read' | 'column', file: string, row: number | undefined, column: string | undefined, message: string) {
    super(code, message);
    this.name = 'ReaderError';
    this.file = file;
    this.row = row;
    this.column = column;
  }
}

/** Invalid weights or domains; `domain` names the offending domain when there is one. */
export class WeightError extends DataError {
  readonly domain: string | undefined;
  constructor(code: 'weights' | 'domain', domain: string | undefined, message: string) {
    super(code, message);
    this.name = 'WeightError';
    this.domain = domain;
  }
}
