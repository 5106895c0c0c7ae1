import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { TrainingInterruptedError } from './errors.js';
import { train } from './trainer.js';
import type { TrainRecord } from './metrics.js';
import { corpusSources, tempDir, tinyModel, tokenizer, removeTempDirs } from '../test/support/fixtures.js';

afterAll(removeTempDirs);

it('an aborted signal stops the run between two steps, naming the last complete checkpoint; resuming finishes it', async () => {
  const out = tempDir();
  const sources = corpusSources({ docs: 20 });
  const cfg = { max_steps: 6, batch_size: 2, seq_len: 16, save_every: 2, eval_blocks: 0, warmup_steps: 1, quiet: true };
  const ac = new AbortController();
  // A real SIGINT handler only runs when the loop yields to the event loop: abort from a timer, not from a hook.
  const steps: number[] = [];
  const err = await train(cfg, {
    model: tinyModel(4), sources, tokenizer, outDir: out, progress: null, signal: ac.signal,
    onLog: (r) => {
      if (r.kind !== 'train') return;
      steps.push((r as TrainRecord).step);
      if (r.step === 3) setImmediate(() => ac.abort());
    },
  }).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(TrainingInterruptedError);
  const e = err as TrainingInterruptedError;
  expect(e.step).toBe(3);
  expect(e.checkpoint).toBe(join(out, 'checkpoint-2'));
  expect(steps).toEqual([1, 2, 3]);
  expect(readdirSync(out).filter((n) => n.startsWith('checkpoint')).sort()).toEqual(['checkpoint-2']);
  const r = await train(cfg, { model: tinyModel(4), sources, tokenizer, outDir: out, progress: null, signal: new AbortController().signal });
  expect(r.step).toBe(6);
});
