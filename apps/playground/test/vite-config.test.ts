/**
 * The playground needs no Node stubs: its Vite config has no stub list or stub plugin (the
 * packages' roots are browser-safe), and building the page resolves no Node built-in at all.
 */
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, loadConfigFromFile, type Plugin, type PluginOption } from 'vite';
import { describe, expect, it } from 'vitest';
import { isNodeBuiltin } from '@llama-moe/test-support/browser-bundle';

const APP = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CONFIG = join(APP, 'vite.config.ts');

function pluginNames(plugins: PluginOption[] | undefined): string[] {
  return (plugins ?? []).flat(Infinity as 1).filter((p): p is Plugin => !!p && typeof p === 'object' && 'name' in p).map((p) => p.name);
}

describe('playground vite config', () => {
  it('has no Node built-in stub list and no stub plugin', async () => {
    const source = readFileSync(CONFIG, 'utf8');
    expect(source).not.toMatch(/STUBBED_BUILTINS|node-builtin-stub|node-stub/i);
    expect(source).not.toMatch(/\[\s*'node:[a-z_]+'\s*,/); // no list of node: ids
    const loaded = await loadConfigFromFile({ command: 'build', mode: 'production' }, CONFIG, APP, 'silent');
    expect(pluginNames(loaded?.config.plugins)).toEqual(['playground-model-dir']);
  });

  it('builds the page without resolving any Node built-in', async () => {
    const seen: string[] = [];
    const recorder: Plugin = {
      name: 'record-node-builtins',
      enforce: 'pre',
      resolveId(id, importer) {
        if (isNodeBuiltin(id)) seen.push(`${id} (from ${importer ?? '?'})`);
        return null;
      },
    };
    const out = mkdtempSync(join(tmpdir(), 'playground-build-'));
    try {
      await build({
        root: APP,
        configFile: CONFIG,
        logLevel: 'silent',
        plugins: [recorder],
        build: { outDir: out, emptyOutDir: true },
      });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
    expect(seen).toEqual([]);
  });
});
