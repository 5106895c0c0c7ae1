import { open } from 'node:fs/promises';
import { ReaderError } from '../errors.js';

/** One line of a text file, decoded; `end` is the byte offset just past its terminator. */
export interface Line {
  text: string;
  /** 0-based line index within the file. */
  line: number;
  /** Terminator that followed the line: '\n', '\r\n' or '' for a final line without newline. */
  eol: string;
  start: number;
  end: number;
}

/**
 * Streams the lines of a file with bounded memory: fixed-size fs reads, and only the bytes of
 * the current (possibly chunk-spanning) line are held. Each line is decoded with a `fatal`
 * TextDecoder, so invalid UTF-8 fails with the exact file and line instead of becoming U+FFFD.
 */
export async function* readLines(
  file: string,
  opts: { startOffset?: number; startLine?: number; chunkBytes?: number } = {},
): AsyncGenerator<Line> {
  const chunkBytes = opts.chunkBytes ?? 1 << 20;
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    throw new ReaderError('read', file, undefined, undefined, `${file}: cannot open (${(e as Error).message}); check the path`);
  }
  try {
    /** [chunkBytes] reused read buffer; lines are decoded before the next read overwrites it. */
    const buf = Buffer.allocUnsafe(chunkBytes);
    let pos = opts.startOffset ?? 0;
    let line = opts.startLine ?? 0;
    /** Pieces of the current line that spans reads (copied, since `buf` is reused). */
    let pending: Buffer[] = [];
    let lineStart = pos;
    const decode = (bytes: Uint8Array, at: number): string => {
      try {
        return decoder.decode(bytes);
      } catch {
        throw new ReaderError('read', file, at, undefined, `${file}: line ${at + 1}: invalid UTF-8; re-encode the file as UTF-8`);
      }
    };
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, chunkBytes, pos);
      if (bytesRead === 0) break;
      const base = pos;
      pos += bytesRead;
      let i = 0;
      while (i < bytesRead) {
        const nl = buf.indexOf(10, i);
        if (nl < 0 || nl >= bytesRead) {
          pending.push(Buffer.from(buf.subarray(i, bytesRead)));
          break;
        }
        let bytes: Uint8Array = pending.length ? Buffer.concat([...pending, buf.subarray(i, nl)]) : buf.subarray(i, nl);
        pending = [];
        let eol = '\n';
        if (bytes.length > 0 && bytes[bytes.length - 1] === 13) {
          bytes = bytes.subarray(0, bytes.length - 1);
          eol = '\r\n';
        }
        const end = base + nl + 1;
        yield { text: decode(bytes, line), line, eol, start: lineStart, end };
        line++;
        lineStart = end;
        i = nl + 1;
      }
    }
    if (pending.length) {
      // Final line without a trailing newline.
      const bytes = Buffer.concat(pending);
      pending = [];
      yield { text: decode(bytes, line), line, eol: '', start: lineStart, end: pos };
    }
  } finally {
    await fh.close();
  }
}
