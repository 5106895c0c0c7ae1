import { ReaderError } from '../errors.js';
import { readLines } from './lines.js';
import type { TextReaderOptions, TextRecord } from './types.js';

/**
 * JSON Lines, one object per line (SlimPajama / RedPajama layout: `{"text": ..., "meta": {...}}`).
 * Streams line by line; blank lines are skipped but still counted, so `row` is always the line index.
 */
export async function* readJsonl(file: string, opts: TextReaderOptions = {}): AsyncGenerator<TextRecord> {
  const column = opts.textColumn ?? 'text';
  const start = opts.start;
  for await (const ln of readLines(file, { startOffset: start?.offset ?? 0, startLine: start?.row ?? 0, chunkBytes: opts.chunkBytes })) {
    if (ln.text.trim().length === 0) continue;
    let obj: unknown;
    try {
      obj = JSON.parse(ln.text);
    } catch (e) {
      throw new ReaderError('read', file, ln.line, undefined, `${file}: line ${ln.line + 1}: invalid JSON (${(e as Error).message}); fix or remove the line`);
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw new ReaderError('read', file, ln.line, undefined, `${file}: line ${ln.line + 1}: expected a JSON object, got ${Array.isArray(obj) ? 'an array' : typeof obj}`);
    }
    const value = (obj as Record<string, unknown>)[column];
    if (value === undefined) {
      throw new ReaderError('column', file, ln.line, column, `${file}: line ${ln.line + 1}: missing column "${column}" (keys: ${Object.keys(obj).join(', ') || 'none'}); set textColumn`);
    }
    if (typeof value !== 'string') {
      throw new ReaderError('column', file, ln.line, column, `${file}: line ${ln.line + 1}: column "${column}" is ${value === null ? 'null' : typeof value}, expected a string`);
    }
    yield { text: value, row: ln.line, file, cursor: { row: ln.line + 1, offset: ln.end } };
  }
}
