import { afterAll, expect, it } from 'vitest';
import { train } from './trainer.js';
import type { EvalRecord, MetricRecord, TrainRecord } from './metrics.js';
import { corpusSources, tempDir, tinyMoeModel, tokenizer, removeTempDirs } from '../test/support/fixtures.js';

afterAll(removeTempDirs);

const trainsOf = (h: readonly MetricRecord[]) => h.filter((r): r is TrainRecord => r.kind === 'train').map((r) => [r.step, r.loss, r.domain_weights]);

it('eval_at_start adds the step-0 validation point without changing the trajectory (dynamic weights included)', async () => {
  const sources = corpusSources({ docs: 20 });
  const cfg = { max_steps: 6, batch_size: 2, seq_len: 16, warmup_steps: 1, eval_every: 3, eval_blocks: 1, save_every: 0, dynamic: { rule: 'sheared_llama' as const }, quiet: true };
  const withStart = await train(cfg, { model: tinyMoeModel(5), sources, tokenizer, outDir: tempDir('s1'), progress: null });
  const without = await train({ ...cfg, eval_at_start: false }, { model: tinyMoeModel(5), sources, tokenizer, outDir: tempDir('s2'), progress: null });
  const e = withStart.history.filter((r): r is EvalRecord => r.kind === 'eval');
  expect(e.map((r) => [r.step, r.weights_updated])).toEqual([[0, false], [3, true], [6, true]]);
  expect(without.history.filter((r) => r.kind === 'eval').map((r) => r.step)).toEqual([3, 6]);
  expect(trainsOf(withStart.history)).toEqual(trainsOf(without.history));
});
