/**
 * Fuzzing the data readers (JSONL, plain text, Parquet on mutated bytes; Arrow file / stream /
 * list<int32> tokens on truncations) and MultiDomainSampler.resume on mutated state JSON.
 * Property: only DataError (ReaderError / WeightError) comes out, within 2 s per case, without
 * ArrayBuffer growth over 256 MB. Arrow byte flips and length lies are left to
 * tools/reliability/fuzz.mjs (a watched worker per target): apache-arrow trusts those lengths,
 * allocates gigabytes and stalls, which a default test run cannot afford (docs/RELIABILITY.md).
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as arrow from 'apache-arrow';
import { createTargets, findings, runTarget, summarize } from '@llama-moe/test-support/fuzz';
import * as data from './index.js';
import { writeParquetBytes } from '@llama-moe/test-support/parquet-writer';

const { targets, cleanupAll } = createTargets({ fc, data, arrow, parquetBytes: writeParquetBytes }, { arrowLengthLies: false });
afterAll(() => cleanupAll());

const RUNS: Record<string, number> = { 'jsonl + text readers': 400, 'parquet reader': 300, 'arrow reader': 200, 'sampler state': 300 };

describe('data-sampler parsers under fuzzing', () => {
  for (const name of Object.keys(RUNS)) {
    it(`${name}: only DataError, no hang, no lying allocation`, async () => {
      const target = targets.find((t: { name: string }) => t.name === name);
      expect(target, name).toBeDefined();
      const stats = await runTarget(fc, target, { numRuns: RUNS[name], seed: 20240501, timeoutMs: 3000 });
      expect(stats.cases).toBe(RUNS[name]);
      expect(findings(stats), summarize(stats)).toBe(0);
      expect(stats.typed, summarize(stats)).toBeGreaterThan(0);
    }, 120_000);
  }
});
