/**
 * Checks on input and output paths, done before any work starts, without creating anything: a
 * command that fails validation leaves the file system exactly as it found it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliError } from './errors.js';

function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch {
    return null;
  }
}

/** An existing folder (a model, a dataset): otherwise a CliError naming the option. */
export function requireInputDir(dir: string, option: string, what: string): string {
  const label = option ? `${option} ${dir}` : dir;
  const st = statOrNull(dir);
  if (!st) throw new CliError(`${label}: ${what} does not exist`, `pass the path of an existing ${what}`);
  if (!st.isDirectory()) throw new CliError(`${label}: is a file, not a ${what}`, `pass the ${what}'s path`);
  try {
    fs.accessSync(dir, fs.constants.R_OK | fs.constants.X_OK);
  } catch {
    throw new CliError(`${label}: ${what} is not readable`, 'fix its permissions');
  }
  return dir;
}

/** An existing readable file. */
export function requireInputFile(file: string, option: string, what: string): string {
  const label = option ? `${option} ${file}` : file;
  const st = statOrNull(file);
  if (!st) throw new CliError(`${label}: ${what} does not exist`, `pass the path of an existing ${what}`);
  if (st.isDirectory()) throw new CliError(`${label}: is a folder, not a ${what}`, `pass the ${what}'s path`);
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch {
    throw new CliError(`${label}: ${what} is not readable`, 'fix its permissions');
  }
  return file;
}

/**
 * The nearest existing ancestor of `target` must be a writable folder (the parents that do not
 * exist yet are created only once the work succeeds).
 */
function checkCreatable(target: string, option: string): void {
  let dir = path.dirname(path.resolve(target));
  for (;;) {
    const st = statOrNull(dir);
    if (st) {
      if (!st.isDirectory()) throw new CliError(`${option} ${target}: cannot be created because ${dir} is a file, not a folder`, 'choose another output path');
      try {
        fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
      } catch {
        throw new CliError(`${option} ${target}: cannot be created because ${dir} is not writable`, 'choose a writable location or fix its permissions');
      }
      return;
    }
    const up = path.dirname(dir);
    if (up === dir) throw new CliError(`${option} ${target}: no existing parent folder`, 'choose another output path');
    dir = up;
  }
}

/**
 * A new output folder: it may not exist yet, or exist and be empty. A non-empty folder is refused
 * (nothing is overwritten), as is a path under a file or in a read-only place.
 */
export function checkOutputDir(dir: string, option = '--out'): string {
  const st = statOrNull(dir);
  if (st) {
    if (!st.isDirectory()) throw new CliError(`${option} ${dir}: exists and is a file, not a folder`, 'choose a new folder');
    let entries: string[];
    try {
      entries = fs.readdirSync(dir);
    } catch {
      throw new CliError(`${option} ${dir}: exists and cannot be listed`, 'choose a new folder');
    }
    if (entries.length > 0) throw new CliError(`${option} ${dir}: folder exists and is not empty`, 'choose a new folder or remove this one');
    try {
      fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK);
    } catch {
      throw new CliError(`${option} ${dir}: folder is not writable`, 'choose a writable location or fix its permissions');
    }
  }
  checkCreatable(dir, option);
  return dir;
}

/** An output file: replaced atomically if it exists; its folder must exist or be creatable. */
export function checkOutputFile(file: string, option = '--out'): string {
  const st = statOrNull(file);
  if (st?.isDirectory()) throw new CliError(`${option} ${file}: is a folder`, 'pass a file path');
  if (st) {
    try {
      fs.accessSync(path.dirname(path.resolve(file)), fs.constants.W_OK);
    } catch {
      throw new CliError(`${option} ${file}: its folder is not writable`, 'choose a writable location or fix its permissions');
    }
    return file;
  }
  checkCreatable(file, option);
  return file;
}

/** Create the parents of an output path after validation succeeded. */
export function ensureParentDir(target: string): void {
  fs.mkdirSync(path.dirname(path.resolve(target)), { recursive: true });
}
