// The one atomic write of the workspace's scripts (tools/): a temp file in the same folder, fsync,
// rename. Plain Node on purpose: the bench must still write its report when a package fails to
// build. Packages use @llama-moe/llama-model's atomicWriteFile, which does the same.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Replace `target` with `text` (creating its folder) so that it is never half-written. */
export function writeFileAtomic(target, text) {
  mkdirSync(dirname(target), { recursive: true });
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}`);
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeFileSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
