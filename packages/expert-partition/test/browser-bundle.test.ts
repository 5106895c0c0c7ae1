/** The package root is browser-safe: a browser bundle of `@llama-moe/expert-partition` reaches no Node built-in. */
import { describe, expect, it } from 'vitest';
import { browserBundle, entrySource } from '@llama-moe/test-support/browser-bundle';

describe('@llama-moe/expert-partition root in a browser bundle', () => {
  it('reaches no Node built-in', async () => {
    const b = await browserBundle(entrySource('expert-partition'));
    console.log(`@llama-moe/expert-partition root bundle: ${b.bytes} bytes minified, ${b.gzipBytes} gzipped`);
    expect(b.builtins).toEqual([]);
  });

  it('./node reaches the file system', async () => {
    const b = await browserBundle(entrySource('expert-partition', './node'));
    expect(b.builtins.map((x) => x.id)).toContain('node:fs');
  });
});
