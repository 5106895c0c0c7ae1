/**
 * Fuzzing tokenizer.json: a trained LLaMA-2 and LLaMA-3 style tokenizer.json, mutated (a component
 * set to a wrong type / value, deleted, wrapped; the text truncated, spliced, given duplicate
 * keys), loaded with loadTokenizer and used to encode and decode. Only TokenizerError may come out,
 * in under 2 s per case. tools/reliability/fuzz.mjs runs the same target 10 000+ times.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createTargets, findings, runTarget, summarize } from '@llama-moe/test-support/fuzz';
import * as llama from '../node.js';

const { targets, cleanupAll } = createTargets({ fc, llama });
afterAll(() => cleanupAll());

describe('tokenizer.json under fuzzing', () => {
  it('loadTokenizer + encode + decode: only TokenizerError, no hang', async () => {
    const target = targets.find((t: { name: string }) => t.name === 'tokenizer.json');
    const stats = await runTarget(fc, target, { numRuns: 300, seed: 20240501 });
    expect(stats.cases).toBe(300);
    expect(findings(stats), summarize(stats)).toBe(0);
    expect(stats.ok, summarize(stats)).toBeGreaterThan(0);
    expect(stats.typed, summarize(stats)).toBeGreaterThan(0);
  }, 120_000);
});
