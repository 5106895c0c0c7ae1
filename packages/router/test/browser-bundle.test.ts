/**
 * The package root is browser-safe and dependency-free: a browser bundle of `@llama-moe/router`
 * (esbuild, platform 'browser', bundle: true) reaches no Node built-in and no tensor-core (the
 * autograd gate modules are the separate `@llama-moe/router/modules` entry point).
 */
import { describe, expect, it } from 'vitest';
import { browserBundle, entrySource } from '@llama-moe/test-support/browser-bundle';

describe('@llama-moe/router root in a browser bundle', () => {
  it('contains no Node built-ins and no tensor-core', async () => {
    const b = await browserBundle(entrySource('router'));
    console.log(`@llama-moe/router root bundle: ${b.bytes} bytes minified, ${b.gzipBytes} gzipped (${b.inputs.length} files)`);
    expect(b.builtins).toEqual([]);
    expect(b.workspacePackages).toEqual(['router']);
    expect(b.inputs.filter((f) => f.includes('tensor-core'))).toEqual([]);
    expect(b.bytes).toBeGreaterThan(0);
  });
});
