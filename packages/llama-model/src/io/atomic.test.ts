import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WRITE_CHUNK_BYTES, atomicWriteFile, atomicWriteJson, tempPathFor, writeAllSync, writeFileAtomicWith, writevAllSync } from './atomic.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('atomic writes', () => {
  it('writes strings, bytes and JSON (with a trailing newline), replacing the old content', () => {
    const f = path.join(tmp, 'a.json');
    atomicWriteJson(f, { b: [1, 2], a: 'x' });
    expect(fs.readFileSync(f, 'utf8')).toBe('{\n  "b": [\n    1,\n    2\n  ],\n  "a": "x"\n}\n');
    atomicWriteFile(f, 'héllo');
    expect(fs.readFileSync(f, 'utf8')).toBe('héllo');
    atomicWriteFile(f, new Uint8Array([1, 2, 3]));
    expect([...fs.readFileSync(f)]).toEqual([1, 2, 3]);
    expect(fs.readdirSync(tmp)).toEqual(['a.json']);
  });

  it('an error while writing keeps the old file and removes the temp file', () => {
    const f = path.join(tmp, 'keep.bin');
    atomicWriteFile(f, 'old');
    expect(() =>
      writeFileAtomicWith(f, (fd) => {
        fs.writeSync(fd, 'partial new content');
        expect(fs.existsSync(tempPathFor(f))).toBe(true);
        throw new Error('disk on fire');
      }),
    ).toThrow('disk on fire');
    expect(fs.readFileSync(f, 'utf8')).toBe('old');
    expect(fs.existsSync(tempPathFor(f))).toBe(false);
    expect(tempPathFor(f)).toBe(`${f}.tmp-${process.pid}`);
    expect(() => atomicWriteJson(path.join(tmp, 'u.json'), undefined)).toThrow(/not JSON-serializable/);
    expect(() => atomicWriteFile(path.join(tmp, 'no-such-dir', 'x'), 'a')).toThrow(/ENOENT/);
  });
});

describe('writevAllSync', () => {
  it('writes more views than one writev takes (IOV_MAX 1024), in order, skipping empty views', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'writev-'));
    try {
      const f = path.join(dir, 'out.bin');
      const src = new Uint8Array(5000).map((_, i) => (i * 7) & 255);
      // 3000 views of 0-3 bytes (every fourth empty) covering src in order.
      const views: Uint8Array[] = [];
      let off = 0;
      for (let i = 0; off < src.length; i++) {
        const n = Math.min(i % 4, src.length - off);
        views.push(src.subarray(off, off + n));
        off += n;
      }
      expect(views.length).toBeGreaterThan(2048);
      const fd = fs.openSync(f, 'w');
      try {
        writevAllSync(fd, views);
      } finally {
        fs.closeSync(fd);
      }
      expect(new Uint8Array(fs.readFileSync(f))).toEqual(src);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('splits views larger than WRITE_CHUNK_BYTES across calls, mixed with small ones; writeAllSync chunks a large buffer', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'writev-'));
    try {
      const n = 3 * WRITE_CHUNK_BYTES + 12345;
      const src = new Uint8Array(n).map((_, i) => (i * 31 + (i >> 9)) & 255);
      // a small view, one spanning three chunks, a chunk-boundary-sized one, the rest
      const cuts = [0, 7, 7 + 2 * WRITE_CHUNK_BYTES + 5, 7 + 3 * WRITE_CHUNK_BYTES + 5, n];
      const views = cuts.slice(1).map((e, i) => src.subarray(cuts[i]!, e));
      const a = path.join(dir, 'a.bin'), b = path.join(dir, 'b.bin');
      for (const [f, write] of [[a, (fd: number) => writevAllSync(fd, views)], [b, (fd: number) => writeAllSync(fd, src)]] as const) {
        const fd = fs.openSync(f, 'w');
        try {
          write(fd);
        } finally {
          fs.closeSync(fd);
        }
        expect(Buffer.compare(fs.readFileSync(f), Buffer.from(src.buffer, src.byteOffset, src.byteLength))).toBe(0);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
