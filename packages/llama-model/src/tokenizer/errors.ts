/**
 * Typed tokenizer errors. Every message is one line that starts with the file (or the option) it is
 * about, so a failure several packages away still says which tokenizer.json broke and what to do.
 */

/** Why a tokenizer could not be loaded, trained or used. */
export type TokenizerErrorCode =
  | 'missing-file' // tokenizer.json (or the folder) does not exist
  | 'invalid-json' // the file is not JSON, or not an object
  | 'unsupported' // a component this implementation does not run (Unigram, WordPiece, an unknown decoder, ...)
  | 'invalid' // the JSON is a tokenizer.json but is inconsistent (a merge whose result is not in the vocab, ...)
  | 'option' // a bad option passed to the trainer / encoder
  | 'id-range'; // a token id outside the vocabulary

export class TokenizerError extends Error {
  readonly code: TokenizerErrorCode;
  /** The file the error is about (`<dir>/tokenizer.json`), the in-memory label, or the option name. */
  readonly file: string;
  constructor(code: TokenizerErrorCode, file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'TokenizerError';
    this.code = code;
    this.file = file;
  }
}
