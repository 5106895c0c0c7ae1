/**
 * Fuzzing the checkpoint parsers (a few hundred cases per run; tools/reliability/fuzz.mjs runs
 * (GGUF files included: header lies, flips, truncations)
 * 10 000+ against the built dist): safetensors files (random bytes, truncations, header lies:
 * offsets out of range or overlapping, dtype sizes that do not match, a 2^63 header length,
 * non-object JSON, duplicate keys), config.json, and model.safetensors.index.json. The property:
 * only CheckpointIoError subclasses come out, no case takes 2 s, and no lying length makes the
 * process allocate (ArrayBuffer memory growth over 256 MB per case is a failure).
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createTargets, findings, runTarget, summarize } from '@llama-moe/test-support/fuzz';
import * as llama from '../node.js';

const { targets, cleanupAll } = createTargets({ fc, llama });
afterAll(() => cleanupAll());

const RUNS: Record<string, number> = { safetensors: 500, 'config.json': 400, 'safetensors.index.json': 300, gguf: 500, 'gguf model': 200 };

describe('checkpoint parsers under fuzzing', () => {
  for (const name of Object.keys(RUNS)) {
    it(`${name}: only typed errors, no hang, no lying allocation`, async () => {
      const target = targets.find((t: { name: string }) => t.name === name);
      expect(target, name).toBeDefined();
      const stats = await runTarget(fc, target, { numRuns: RUNS[name], seed: 20240501 });
      expect(stats.cases).toBe(RUNS[name]);
      expect(findings(stats), summarize(stats)).toBe(0);
      // The generators must reach both sides: some inputs accepted, most refused.
      expect(stats.typed, summarize(stats)).toBeGreaterThan(0);
    }, 120_000);
  }

  it('the 2^63 header length is refused before any allocation', () => {
    const target = targets.find((t: { name: string }) => t.name === 'safetensors');
    const header = { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } };
    const before = process.memoryUsage().arrayBuffers;
    expect(() => target.run({ kind: 'lie', base: { header, data: new Uint8Array(4) }, lie: { lie: 'length-field', value: 2n ** 63n } })).toThrow(llama.SafetensorsError);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
  });

  it('an index whose shard escapes the folder is refused even when the outside file is a valid shard', () => {
    const target = targets.find((t: { name: string }) => t.name === 'safetensors.index.json');
    target.setup();
    for (const bad of ['../outside.safetensors', 'sub/../../outside.safetensors', '/tmp/x.safetensors', 'pytorch_model.bin']) {
      expect(() => target.run({ edits: null, text: null, shard: { at: 0, name: bad } }), bad).toThrow(llama.CheckpointError);
    }
    // A shard in a sub-folder of the model folder is fine when it holds what the index says.
    expect(() => target.run({ edits: null, text: null, shard: { at: 2, name: 'model-00002-of-00002.safetensors' } })).not.toThrow();
  });
});
