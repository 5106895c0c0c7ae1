/**
 * Fuzzing the trainer's checkpoint files: trainer_state.json (readTrainerStateFile, and the whole
 * Trainer.resume that trusts it), and optimizer.safetensors (readOptimizerState with mutated bytes
 * and mutated param_steps). Property: only typed errors (TrainerError, CheckpointIoError,
 * DataError) come out, within 2 s per case. tools/reliability/fuzz.mjs runs 10 000+ per target.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as llama from '@llama-moe/llama-model';
import * as data from '@llama-moe/data-sampler';
import { createTargets, findings, runTarget, summarize } from '@llama-moe/test-support/fuzz';
import * as trainer from './index.js';

const { targets, cleanupAll } = createTargets({ fc, llama, data, trainer });
afterAll(() => cleanupAll());

const RUNS: Record<string, number> = {
  'trainer_state.json (readTrainerStateFile)': 300,
  'optimizer.safetensors (readOptimizerState)': 300,
  'trainer_state.json (Trainer.resume)': 200,
};

describe('trainer checkpoint files under fuzzing', () => {
  for (const name of Object.keys(RUNS)) {
    it(`${name}: only typed errors, no hang`, async () => {
      const target = targets.find((t: { name: string }) => t.name === name);
      expect(target, name).toBeDefined();
      const stats = await runTarget(fc, target, { numRuns: RUNS[name], seed: 20240501, timeoutMs: 3000 });
      expect(stats.cases).toBe(RUNS[name]);
      expect(findings(stats), summarize(stats)).toBe(0);
      expect(stats.typed, summarize(stats)).toBeGreaterThan(0);
    }, 120_000);
  }
});
