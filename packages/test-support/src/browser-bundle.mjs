/**
 * Browser-bundle checks for the packages' entry points: bundle one entry point the way a web
 * app's bundler would (esbuild, platform 'browser', bundle: true, minified ESM) and report what
 * the bundle reached: Node built-ins (any `node:` id or bare built-in name, which a browser cannot
 * load), which workspace packages it pulled in, and its minified size.
 *
 * Sources are bundled through the `@llama-moe/source` export condition, so no build is needed.
 */
import { builtinModules } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

/** The repository root (this file is packages/test-support/src/browser-bundle.mjs). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** True for an import id that names a Node built-in (`node:fs`, `fs`, `fs/promises`). */
export function isNodeBuiltin(id) {
  return id.startsWith('node:') || BUILTINS.has(id);
}

/**
 * The source file of a workspace package's entry point, from its package.json `exports`
 * (`@llama-moe/source` condition): `entrySource('router')`, `entrySource('llama-model', './node')`.
 */
export function entrySource(dir, subpath = '.') {
  const pkgDir = join(REPO_ROOT, 'packages', dir);
  const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  const target = manifest.exports?.[subpath];
  const file = target && typeof target === 'object' ? target['@llama-moe/source'] : undefined;
  if (typeof file !== 'string') throw new Error(`packages/${dir}/package.json: no '@llama-moe/source' export for '${subpath}'`);
  return join(pkgDir, file);
}

/**
 * Bundle `entry` (a file) for the browser. Never throws on unresolvable Node built-ins: they are
 * recorded (with the file that imported them) and left external, so a test can list them all.
 */
export async function browserBundle(entry) {
  const builtins = [];
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    write: false,
    metafile: true,
    absWorkingDir: REPO_ROOT,
    logLevel: 'silent',
    conditions: ['@llama-moe/source'],
    plugins: [
      {
        name: 'record-node-builtins',
        setup(b) {
          b.onResolve({ filter: /.*/ }, (args) => {
            if (!isNodeBuiltin(args.path)) return undefined;
            builtins.push({ id: args.path, importer: relative(REPO_ROOT, args.importer) });
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });
  const code = result.outputFiles[0].contents;
  const inputs = Object.keys(result.metafile.inputs);
  const workspacePackages = [...new Set(inputs.map((f) => /^packages\/([^/]+)\/src\//.exec(f)?.[1]).filter(Boolean))].sort();
  return {
    /** Minified bundle size in bytes. */
    bytes: code.byteLength,
    /** Gzipped size of the minified bundle in bytes. */
    gzipBytes: gzipSync(code).byteLength,
    /** Node built-ins the bundle reached, each with the file that imported it. */
    builtins,
    /** Files in the bundle, relative to the repository root. */
    inputs,
    /** Workspace packages (folder names under packages/) whose sources are in the bundle. */
    workspacePackages,
  };
}
