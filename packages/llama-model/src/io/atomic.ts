/**
 * Atomic file writes: write to a temp file in the same folder, fsync it, rename it over the target,
 * then fsync the folder. A crash or an exception leaves either the old file or the new one, never
 * half a file, and the temp file is removed on error. Same folder because rename(2) is only atomic
 * within one filesystem.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as workerThreads from 'node:worker_threads';

/** `<path>.tmp-<pid>` (plus `-<workerThreads.threadId>` inside a worker thread, which shares the pid). */
export function tempPathFor(target: string): string {
  return `${target}.tmp-${process.pid}${workerThreads.threadId ? `-${workerThreads.threadId}` : ''}`;
}

/** Largest single read / write: Node refuses one call above 2 GiB, and a 7B embedding in f32 is bigger. */
export const MAX_IO_BYTES = 1 << 30;

/**
 * Bytes per write(2) / writev(2) call. Measured on this project's 2-core VM (ext4, 2.1 GB of
 * tensors held in memory, alternating runs): 128 KiB calls spent 0.58 s in the kernel, 8 MiB
 * calls 3.1-3.7 s for the same bytes, every time after the first run. Small calls keep each
 * copy into the page cache within the CPU caches; a few thousand more syscalls cost nothing
 * next to that.
 */
export const WRITE_CHUNK_BYTES = 128 * 1024;

/** Write all of `bytes` at the current position (writeSync may write less than asked). */
export function writeAllSync(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.byteLength) {
    off += fs.writeSync(fd, bytes, off, Math.min(WRITE_CHUNK_BYTES, bytes.byteLength - off));
  }
}

/** Largest iovec count per writev (Linux IOV_MAX). */
const MAX_IOV = 1024;

/**
 * Write the concatenation of `views` at the current position with writev(2) (a gather write: the
 * kernel copies each view straight into the page cache, no user-side concatenation), at most
 * WRITE_CHUNK_BYTES and IOV_MAX views per call (a view larger than that is split across calls).
 * Partial writes are resumed mid-view.
 */
export function writevAllSync(fd: number, views: readonly Uint8Array[]): void {
  let i = 0;
  let skip = 0; // bytes of views[i] already written
  while (i < views.length) {
    const batch: Uint8Array[] = [];
    let bytes = 0;
    for (let k = i; k < views.length && batch.length < MAX_IOV && bytes < WRITE_CHUNK_BYTES; k++) {
      const v = k === i ? views[k]!.subarray(skip) : views[k]!;
      if (v.byteLength === 0) continue;
      const take = Math.min(v.byteLength, WRITE_CHUNK_BYTES - bytes);
      batch.push(take === v.byteLength ? v : v.subarray(0, take));
      bytes += take;
    }
    if (batch.length === 0) return;
    let n = fs.writevSync(fd, batch);
    // Advance (i, skip) past the n bytes written.
    while (n > 0 && i < views.length) {
      const left = views[i]!.byteLength - skip;
      if (n >= left) {
        n -= left;
        i++;
        skip = 0;
      } else {
        skip += n;
        n = 0;
      }
    }
    while (i < views.length && views[i]!.byteLength - skip === 0) {
      i++;
      skip = 0;
    }
  }
}

/** fsync a folder so a rename inside it is durable. Best effort: not every platform allows it. */
export function fsyncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Windows and some filesystems refuse fsync on folders; the rename itself is still atomic.
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

/** Best-effort removal used on error paths (the original error is what the caller needs to see). */
export function removeQuietly(p: string): void {
  try {
    fs.unlinkSync(p);
  } catch {
    /* already gone */
  }
}

/** Stream into `<target>.tmp-<pid>` (or `opts.tempPath`) through `fill(fd)`, then fsync + rename onto `target`. */
export function writeFileAtomicWith(target: string, fill: (fd: number) => void, opts: { tempPath?: string } = {}): void {
  const tmp = opts.tempPath ?? tempPathFor(target);
  writeTempFile(tmp, fill);
  try {
    fs.renameSync(tmp, target);
  } catch (e) {
    removeQuietly(tmp);
    throw e;
  }
  fsyncDir(path.dirname(target));
}

/** Write and fsync a temp file; on any error close and remove it, then rethrow. */
export function writeTempFile(tmp: string, fill: (fd: number) => void): void {
  let fd: number | null = null;
  try {
    fd = fs.openSync(tmp, 'w');
    fill(fd);
    fs.fsyncSync(fd);
    const closing = fd;
    fd = null;
    fs.closeSync(closing);
  } catch (e) {
    if (fd !== null) {
      try {
        fs.closeSync(fd);
      } catch {
        /* keep the original error */
      }
    }
    removeQuietly(tmp);
    throw e;
  }
}

/** Atomically replace `target` with `data` (a string is written as UTF-8). */
export function atomicWriteFile(target: string, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  writeFileAtomicWith(target, (fd) => writeAllSync(fd, bytes));
}

/** Atomically write `obj` as JSON (indent 2 by default) with a trailing newline. */
export function atomicWriteJson(target: string, obj: unknown, opts: { indent?: number } = {}): void {
  const text = JSON.stringify(obj, null, opts.indent ?? 2);
  if (text === undefined) throw new TypeError(`atomicWriteJson(${target}): value is not JSON-serializable`);
  atomicWriteFile(target, text + '\n');
}
