/**
 * A built workspace package (packages/<dir>/dist) as one namespace: the exports of every entry
 * point in its package.json (`.`, `./node`, `./bench`, `./wasm`, ...) merged, so a tool that
 * benchmarks or drives a package sees its whole API whichever entry point a function lives in.
 * Imported by file path so every package shares the one tensor-core instance (and kernel
 * registry) that their own imports resolve to. Plain Node, no workspace imports.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The built files of a package's entry points (the `default` target of each export but ./package.json), root first. */
export function builtEntryFiles(dir) {
  const base = join(REPO_ROOT, 'packages', dir);
  const manifest = JSON.parse(readFileSync(join(base, 'package.json'), 'utf8'));
  const files = [];
  for (const [key, target] of Object.entries(manifest.exports ?? { '.': manifest.main })) {
    if (key === './package.json') continue;
    const file = typeof target === 'string' ? target : target.default;
    if (typeof file === 'string') files.push(join(base, file));
  }
  return files;
}

/** Import every built entry point of packages/<dir> and merge their exports into one object. */
export async function importBuiltPackage(dir) {
  const files = builtEntryFiles(dir);
  for (const file of files) {
    if (!existsSync(file)) throw new Error(`${file} is missing: build the workspace first (pnpm nx run-many -t build)`);
  }
  const mods = await Promise.all(files.map((f) => import(pathToFileURL(f).href)));
  return Object.freeze(Object.assign({}, ...mods));
}
