import { readLines } from './lines.js';
import type { TextReaderOptions, TextRecord } from './types.js';

/**
 * Plain text. `document` mode: the whole file is one document (it must fit in memory, it is one
 * training document). `paragraph` mode: documents are separated by blank lines, streamed.
 * Line terminators inside a document are kept as written (CRLF stays CRLF).
 */
export async function* readText(file: string, opts: TextReaderOptions = {}): AsyncGenerator<TextRecord> {
  const mode = opts.textMode ?? 'document';
  const start = opts.start;
  if (mode === 'document') {
    if ((start?.row ?? 0) > 0) return;
    const parts: string[] = [];
    let end = 0;
    for await (const ln of readLines(file, { chunkBytes: opts.chunkBytes })) {
      parts.push(ln.text, ln.eol);
      end = ln.end;
    }
    yield { text: parts.join(''), row: 0, file, cursor: { row: 1, offset: end } };
    return;
  }
  let row = start?.row ?? 0;
  let para: string[] = [];
  let lastEnd = start?.offset ?? 0;
  for await (const ln of readLines(file, { startOffset: start?.offset ?? 0, chunkBytes: opts.chunkBytes })) {
    if (ln.text.trim().length === 0) {
      if (para.length) {
        yield { text: para.join('\n'), row, file, cursor: { row: row + 1, offset: ln.start } };
        row++;
        para = [];
      }
    } else {
      para.push(ln.text);
    }
    lastEnd = ln.end;
  }
  if (para.length) yield { text: para.join('\n'), row, file, cursor: { row: row + 1, offset: lastEnd } };
}
