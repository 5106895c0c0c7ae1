import * as fs from 'node:fs';

/**
 * Open `path` for reading and check it is a regular file; failures come back as the caller's
 * typed error (`fail(message)`) naming what went wrong. The caller closes the returned fd.
 * Shared by the safetensors and GGUF readers, which report "cannot open" / "cannot stat" alike.
 */
export function openRegularFile(path: string, fail: (message: string) => Error): { fd: number; size: number } {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    throw fail(`cannot open: ${(e as Error).message}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new Error('not a regular file');
    return { fd, size: st.size };
  } catch (e) {
    fs.closeSync(fd);
    throw fail(`cannot stat: ${(e as Error).message}`);
  }
}
