import { afterAll, describe, expect, it } from 'vitest';
import type { TrainableModel } from './model.js';
import type { TrainerEvent } from './events.js';
import { trainingProgress } from './progress-display.js';
import { train } from './trainer.js';
import { corpusSources, removeTempDirs, tempDir, tinyModel, tokenizer } from '../test/support/fixtures.js';

afterAll(removeTempDirs);
const sources = corpusSources({ docs: 30 });

describe('the trainer emits events and writes no progress itself', () => {
  it('steps, evaluations, checkpoints and the end, in order; the display renders them; no progress stream → nothing written', async () => {
    const events: TrainerEvent[] = [];
    const lines: string[] = [];
    const cfg = { max_steps: 6, batch_size: 2, seq_len: 16, save_every: 3, eval_every: 2, eval_blocks: 1, log_every: 3, warmup_steps: 1, seed: 2 };
    const writes: string[] = [];
    const origWrite = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => { writes.push(String(s)); return true; }) as typeof process.stderr.write;
    try {
      await train(cfg, { model: tinyModel(2), sources, tokenizer, outDir: tempDir('ev'), onEvent: (e) => events.push(e) });
    } finally {
      process.stderr.write = origWrite;
    }
    expect(writes.join('')).toBe('');
    expect(events.map((e) => (e.type === 'step' ? `s${e.record.step}` : e.type === 'eval' ? `e${e.record.step}` : e.type === 'checkpoint' ? `c${e.step}` : e.type))).toEqual(
      ['e0', 's1', 's2', 'e2', 's3', 'c3', 's4', 'e4', 's5', 's6', 'e6', 'c6', 'end'],
    );
    const cp = events.find((e) => e.type === 'checkpoint');
    expect(cp && cp.type === 'checkpoint' && cp.dir).toMatch(/checkpoint-3$/);
    const show = trainingProgress({ write: (s) => lines.push(s), isTTY: false }, 3);
    events.forEach(show);
    expect(lines.join('')).toMatch(/^eval @ step 0: val_loss/);
    expect(lines.filter((l) => l.startsWith('step ')).map((l) => l.split(' ')[1])).toEqual(['3/6', '6/6']);
  });

  it("a non-finite step under nan_policy 'skip' is an event with the decision", async () => {
    const events: TrainerEvent[] = [];
    const poison = { afterBackward: ({ step, model: m }: { step: number; model: TrainableModel }) => { if (step === 2) m.namedParameters()[3]![1].grad!.data[0] = NaN; } };
    await train({ max_steps: 3, batch_size: 2, seq_len: 16, save_every: 0, eval_blocks: 0, nan_policy: 'skip', quiet: true, warmup_steps: 1, seed: 4 },
      { model: tinyModel(4), sources, tokenizer, outDir: tempDir('ev-nan'), hooks: poison, onEvent: (e) => events.push(e) });
    const nan = events.filter((e) => e.type === 'nonFinite');
    expect(nan).toEqual([{ type: 'nonFinite', step: 2, what: 'grad_norm', value: NaN, action: 'skip', consecutiveSkips: 1 }]);
    expect(events.filter((e) => e.type === 'step').map((e) => e.type === 'step' && e.record.skipped)).toEqual([false, true, false]);
  });
});
