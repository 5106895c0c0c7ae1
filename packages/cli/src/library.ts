/**
 * Late binding to library functions that are still being written (expert-partition's converter,
 * the trainer). A command validates its options first, then looks the function up by name; when
 * this build does not have it the command fails with `llama-moe <command>: not available in this
 * build` and nothing is written.
 */
import { CliError } from './errors.js';

const PACKAGES = {
  'expert-partition': () => import('@llama-moe/expert-partition/node') as Promise<unknown>,
  trainer: () => import('@llama-moe/trainer') as Promise<unknown>,
  'llama-model': () => import('@llama-moe/llama-model/node') as Promise<unknown>,
} as const;

export type LibraryPackage = keyof typeof PACKAGES;

/** The first of `names` that `pkg` exports as a function, or null. */
export async function findLibraryFunction<F extends (...args: never[]) => unknown>(pkg: LibraryPackage, names: readonly string[]): Promise<F | null> {
  const mod = (await PACKAGES[pkg]()) as Record<string, unknown>;
  for (const n of names) {
    const f = mod[n];
    if (typeof f === 'function') return f as F;
  }
  return null;
}

/** Like findLibraryFunction, but a missing function is the one-line "not available in this build" error. */
export async function requireLibraryFunction<F extends (...args: never[]) => unknown>(pkg: LibraryPackage, names: readonly string[]): Promise<F> {
  const f = await findLibraryFunction<F>(pkg, names);
  if (!f) throw new CliError('not available in this build');
  return f;
}
