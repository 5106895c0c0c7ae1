/**
 * Output folders that appear whole or not at all: the work is built in a hidden staging folder
 * beside the target (same file system, so the final rename is atomic) and renamed into place at
 * the end; on failure the staging folder is removed and the target is untouched. Replacing an
 * existing folder moves it aside first and deletes it only after the new one is in place.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** `.NAME.partial-PID` beside `target`. */
export function stagingPathFor(target: string, tag = 'partial'): string {
  const abs = path.resolve(target);
  return path.join(path.dirname(abs), `.${path.basename(abs)}.${tag}-${process.pid}`);
}

/**
 * Build `target` through `fill(staging)`. With `replace`, an existing `target` is swapped out
 * after `fill` succeeds (the old one is deleted last); otherwise it must not exist or be empty.
 */
export async function buildFolderAtomically<T>(target: string, fill: (staging: string) => Promise<T>, opts: { replace?: boolean } = {}): Promise<T> {
  const abs = path.resolve(target);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  const staging = stagingPathFor(abs);
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging);
  let result: T;
  try {
    result = await fill(staging);
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  }
  let old: string | null = null;
  if (fs.existsSync(abs)) {
    if (fs.readdirSync(abs).length === 0) {
      fs.rmdirSync(abs);
    } else if (opts.replace) {
      old = stagingPathFor(abs, 'old');
      fs.rmSync(old, { recursive: true, force: true });
      fs.renameSync(abs, old);
    }
  }
  try {
    fs.renameSync(staging, abs);
  } catch (e) {
    if (old) fs.renameSync(old, abs);
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  }
  if (old) fs.rmSync(old, { recursive: true, force: true });
  return result;
}
