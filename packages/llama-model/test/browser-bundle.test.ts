/**
 * The package root is browser-safe: a browser bundle of `@llama-moe/llama-model` (esbuild,
 * platform 'browser', bundle: true, no Node stubs) reaches no `node:` import. The file-system
 * API is `@llama-moe/llama-model/node`, which does (and is checked to, so this test can fail).
 */
import { describe, expect, it } from 'vitest';
import { browserBundle, entrySource } from '@llama-moe/test-support/browser-bundle';

describe('@llama-moe/llama-model entry points in a browser bundle', () => {
  it('the root builds for the browser with no Node built-in reachable', async () => {
    const b = await browserBundle(entrySource('llama-model'));
    console.log(`@llama-moe/llama-model root bundle: ${b.bytes} bytes minified, ${b.gzipBytes} gzipped`);
    expect(b.builtins).toEqual([]);
    expect(b.workspacePackages).toEqual(['llama-model', 'tensor-core']);
  });

  it('./node is where the file system lives', async () => {
    const b = await browserBundle(entrySource('llama-model', './node'));
    expect(b.builtins.map((x) => x.id)).toContain('node:fs');
  });
});
