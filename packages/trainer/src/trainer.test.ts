import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SafetensorsFile, loadLlama } from '@llama-moe/llama-model/node';
import { CheckpointStateError, NonFiniteError, TrainConfigError } from './errors.js';
import { latestCheckpoint, listCheckpoints, type CheckpointPhase } from './checkpoint.js';
import type { EvalRecord, MetricRecord, TrainRecord } from './metrics.js';
import { Trainer, train, type TrainInputs } from './trainer.js';
import type { TrainConfig } from './config.js';
import { corpusSources, loadTinyMoe, tempDir, tinyModel, tinyMoeModel, tokenizer, removeTempDirs } from '../test/support/fixtures.js';

afterAll(removeTempDirs);
import type { TrainableModel } from './model.js';

const trains = (h: readonly MetricRecord[]) => h.filter((r): r is TrainRecord => r.kind === 'train');
const evals = (h: readonly MetricRecord[]) => h.filter((r): r is EvalRecord => r.kind === 'eval');
/** The deterministic part of a train record (timings excluded). */
const det = (r: TrainRecord) => ({ step: r.step, loss: r.loss, ce: r.ce_loss, bal: r.balance_loss, lr: r.lr, g: r.grad_norm, w: r.domain_weights, c: r.domain_counts, load: r.expert_load, imp: r.expert_importance, stage: r.stage, skipped: r.skipped });
const paramsOf = (m: TrainableModel) => m.namedParameters().map(([n, t]) => [n, Array.from(t.data)] as const);

const sources = corpusSources({ docs: 30 });

/** MoE, grad accumulation, stages, dynamic weights, stats: every piece of state a resume must carry. */
const RESUME_CFG: Partial<TrainConfig> = {
  max_steps: 10, batch_size: 2, grad_accum: 2, seq_len: 16, lr: 5e-3, warmup_steps: 2, save_every: 3, keep_last: 2, eval_every: 4, eval_blocks: 1,
  stats_every: 2, seed: 11, stages: [{ steps: 2, trainable: 'gates' }, { trainable: 'all' }], dynamic: { rule: 'sheared_llama', update_every: 4 }, quiet: true,
};

function moeInputs(outDir: string, extra: Partial<TrainInputs> = {}): TrainInputs {
  return { model: tinyMoeModel(3), sources, tokenizer, outDir, loadModel: (d) => loadTinyMoe(d), progress: null, ...extra };
}

describe('training', () => {
  it('a seeded tiny model learns the synthetic corpus: training and validation loss fall clearly in 60 steps', async () => {
    const out = tempDir();
    const r = await train({ max_steps: 60, batch_size: 4, seq_len: 32, lr: 3e-3, warmup_steps: 5, eval_every: 20, eval_blocks: 2, save_every: 30, seed: 1, quiet: true },
      { model: tinyModel(1), sources: corpusSources({ docs: 60 }), tokenizer, outDir: out, progress: null });
    const t = trains(r.history);
    expect(t).toHaveLength(60);
    const first = t[0]!.loss;
    const last10 = t.slice(-10).reduce((a, x) => a + x.loss, 0) / 10;
    expect(first).toBeGreaterThan(5.3); // ≈ ln 259 at init
    expect(last10).toBeLessThan(first - 1.5);
    const e = evals(r.history);
    // Step 0 (eval_at_start: the model before any update), then every eval_every steps.
    expect(e.map((x) => x.step)).toEqual([0, 20, 40, 60]);
    expect(e[3]!.val_loss).toBeLessThan(e[1]!.val_loss);
    expect(e[1]!.val_loss).toBeLessThan(e[0]!.val_loss);
    expect(e[3]!.val_ppl).toBeCloseTo(Math.exp(e[3]!.val_loss), 6);
    expect(Object.keys(e[0]!.val_loss_per_domain).sort()).toEqual(['arxiv', 'github', 'wikipedia']);
    // Metrics file: one line per record, the same records.
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(r.history.length);
    // The step-0 eval, 20 train records, an eval, 20 more, an eval: index 43 is step 41.
    expect(lines[0]).toMatchObject({ kind: 'eval', step: 0 });
    expect(lines[43]).toMatchObject({ kind: 'train', step: 41 });
    expect(lines[42]).toMatchObject({ kind: 'eval', step: 40 });
    for (const k of ['step', 'loss', 'ce_loss', 'balance_loss', 'lr', 'grad_norm', 'tokens_per_sec', 'tokens', 'elapsed_s', 'gflops_per_sec', 'domain_weights', 'domain_counts']) expect(lines[1]).toHaveProperty(k);
    expect(t.every((x) => x.grad_norm > 0 && x.tokens === 4 * 32 && x.gflops_per_sec > 0)).toBe(true);
    expect(listCheckpoints(out).map((c) => c.step)).toEqual([30, 60]);
    expect(existsSync(join(out, 'report.html'))).toBe(true);
  });

  it('checkpoint layout: HF model in f32, optimizer.safetensors with exp_avg / exp_avg_sq per parameter, trainer_state.json', async () => {
    const out = tempDir();
    const model = tinyModel(2);
    await train({ max_steps: 4, batch_size: 2, seq_len: 16, save_every: 2, keep_last: 1, eval_blocks: 0, quiet: true, warmup_steps: 1 }, { model, sources, tokenizer, outDir: out, progress: null });
    expect(readdirSync(out).filter((n) => n.startsWith('checkpoint')).sort()).toEqual(['checkpoint-4']);
    const dir = join(out, 'checkpoint-4');
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'optimizer.safetensors', 'trainer_state.json']);
    const loaded = loadLlama(dir);
    expect(paramsOf(loaded)).toEqual(paramsOf(model));
    const opt = SafetensorsFile.open(join(dir, 'optimizer.safetensors'));
    const names = model.namedParameters().map(([n]) => n);
    expect(opt.keys().sort()).toEqual(names.flatMap((n) => [`${n}.exp_avg`, `${n}.exp_avg_sq`]).sort());
    expect(opt.info('lm_head.weight.exp_avg')).toMatchObject({ dtype: 'F32', shape: [259, 32] });
    opt.close();
    const st = JSON.parse(readFileSync(join(dir, 'trainer_state.json'), 'utf8'));
    expect(st).toMatchObject({ format: 'llama-moe-trainer-state', version: 1, step: 4, nan: { consecutive_skips: 0, total_skips: 0 } });
    expect(st.config_hash).toMatch(/^sha256:/);
    expect(st.sampler.version).toBe(1);
    expect(Object.values(st.optimizer.param_steps)).toEqual(names.map(() => 4));
    expect(trains(st.metrics)).toHaveLength(4);
  });

  describe('resume', () => {
    let reference: { history: MetricRecord[]; params: (readonly [string, number[]])[] };
    beforeAll(async () => {
      const r = await train(RESUME_CFG, moeInputs(tempDir('ref')));
      reference = { history: r.history, params: paramsOf(r.model) };
    });

    it('the reference run exercises MoE balance loss, routing stats, stages and dynamic weights', () => {
      const t = trains(reference.history);
      expect(t.every((r) => r.balance_loss > 0)).toBe(true);
      expect(t.filter((r) => r.expert_load).map((r) => r.step)).toEqual([2, 4, 6, 8, 10]);
      expect(t.map((r) => r.stage)).toEqual([0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
      const e = evals(reference.history);
      // The step-0 evaluation never updates the domain weights: the trajectory is that of a run without it.
      expect(e.map((r) => [r.step, r.weights_updated])).toEqual([[0, false], [4, true], [8, true], [10, false]]);
      expect(t[0]!.domain_weights).toEqual(e[0]!.domain_weights);
      expect(t[4]!.domain_weights).toEqual(e[1]!.domain_weights);
      expect(t[0]!.domain_weights).not.toEqual(e[1]!.domain_weights);
      expect(t.every((r) => Object.values(r.domain_counts).reduce((a, b) => a + b, 0) === 4)).toBe(true);
    });

    const PHASES: (CheckpointPhase | 'step-end')[] = ['step-end', 'model-written', 'optimizer-written', 'state-written', 'renamed', 'pruned'];

    it('property: a crash at any step and checkpoint phase, then resume, reproduces every loss bit for bit', async () => {
      await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 10 }), fc.constantFrom(...PHASES), async (crashStep, phase) => {
        const out = tempDir('crash');
        // Checkpoint phases happen only on checkpoint steps (3, 6, 9 and the final 10).
        const at = phase === 'step-end' ? crashStep : [3, 6, 9, 10].find((s) => s >= crashStep)!;
        const crash = new Error('simulated crash');
        const hooks = phase === 'step-end'
          ? { onStepEnd: (r: TrainRecord) => { if (r.step === at) throw crash; } }
          : { onCheckpointPhase: (p: CheckpointPhase, s: number) => { if (p === phase && s === at) throw crash; } };
        await expect(train(RESUME_CFG, moeInputs(out, { hooks }))).rejects.toBe(crash);
        // Fresh objects, as after a restart: train() resumes from the latest complete checkpoint (or starts over).
        const r = await train(RESUME_CFG, moeInputs(out));
        expect(trains(r.history).map(det)).toEqual(trains(reference.history).map(det));
        expect(evals(r.history)).toEqual(evals(reference.history));
        expect(paramsOf(r.model)).toEqual(reference.params);
        expect(readdirSync(out).filter((n) => n.includes('checkpoint')).sort()).toEqual(['checkpoint-10', 'checkpoint-9']);
        const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as MetricRecord);
        expect(trains(lines).map(det)).toEqual(trains(reference.history).map(det));
      }), { numRuns: 14, examples: [[3, 'model-written'], [6, 'optimizer-written'], [6, 'state-written'], [9, 'renamed'], [10, 'renamed'], [3, 'pruned'], [5, 'step-end'], [10, 'step-end']] });
    });

    it('half-written folders are ignored and removed on resume; a resumed config must match on trajectory keys', async () => {
      const out = tempDir('partial');
      const crash = new Error('stop');
      await expect(train(RESUME_CFG, moeInputs(out, { hooks: { onStepEnd: (r) => { if (r.step === 7) throw crash; } } }))).rejects.toBe(crash);
      expect(latestCheckpoint(out)!.step).toBe(6);
      // A complete-looking temp folder and a checkpoint folder without trainer_state.json.
      mkdirSync(join(out, 'checkpoint-9.tmp-4242'));
      writeFileSync(join(out, 'checkpoint-9.tmp-4242', 'trainer_state.json'), '{"format":"llama-moe-trainer-state","step":9}');
      mkdirSync(join(out, 'checkpoint-12'));
      writeFileSync(join(out, 'checkpoint-12', 'config.json'), '{}');
      expect(latestCheckpoint(out)!.step).toBe(6);
      await expect(Trainer.resume(out, { ...moeInputs(out), config: { ...RESUME_CFG, lr: 1e-3 } })).rejects.toThrow(TrainConfigError);
      await expect(Trainer.resume(out, { ...moeInputs(out), config: { ...RESUME_CFG, lr: 1e-3 } })).rejects.toThrow(/^config\.lr: differs from the run being resumed/);
      await expect(Trainer.create(RESUME_CFG, moeInputs(out))).rejects.toThrow(CheckpointStateError);
      // Bookkeeping keys may change.
      const t = await Trainer.resume(out, { ...moeInputs(out), config: { ...RESUME_CFG, save_every: 5, keep_last: 0 } });
      expect(t.step).toBe(6);
      expect(existsSync(join(out, 'checkpoint-9.tmp-4242'))).toBe(false);
      const r = await t.run();
      expect(trains(r.history).map(det)).toEqual(trains(reference.history).map(det));
      expect(listCheckpoints(out).map((c) => c.step)).toEqual([3, 6, 10]);
      await expect(Trainer.resume(tempDir('empty'), moeInputs(out))).rejects.toThrow(/holds no complete checkpoint/);
    });
  });

  describe('NaN / Inf guard', () => {
    const cfg: Partial<TrainConfig> = { max_steps: 8, batch_size: 2, seq_len: 16, save_every: 2, eval_blocks: 0, quiet: true, warmup_steps: 1, seed: 4 };

    it("policy 'stop': a non-finite gradient norm stops before the update, naming the step; the last checkpoint stays intact and resumable", async () => {
      const out = tempDir('nan');
      const model = tinyModel(4);
      const poison = { afterBackward: ({ step, model: m }: { step: number; model: TrainableModel }) => { if (step === 5) m.namedParameters()[3]![1].grad!.data[0] = NaN; } };
      const err = await train(cfg, { model, sources, tokenizer, outDir: out, progress: null, hooks: poison }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NonFiniteError);
      expect((err as Error).message).toMatch(/^step 5: grad_norm is NaN .*checkpoint-4 is intact/);
      expect(listCheckpoints(out).map((c) => c.step)).toEqual([2, 4]);
      expect(readdirSync(out).some((n) => n.includes('.tmp-'))).toBe(false);
      // The checkpoint equals the weights after step 4 (the poisoned step changed nothing).
      expect(paramsOf(loadLlama(join(out, 'checkpoint-4')))).toEqual(paramsOf(model));
      const r = await train(cfg, { model: tinyModel(4), sources, tokenizer, outDir: out, progress: null });
      expect(r.step).toBe(8);
    });

    it("policy 'stop': a NaN weight makes the next loss NaN and names that step", async () => {
      const hooks = { afterBackward: ({ step, model: m }: { step: number; model: TrainableModel }) => { if (step === 2) m.namedParameters()[0]![1].data.fill(NaN); } };
      // The NaN weight goes in after step 2's backward; step 2's own update keeps NaN (Adam on a NaN weight) so step 3's loss is NaN.
      await expect(train(cfg, { model: tinyModel(4), sources, tokenizer, outDir: tempDir('nan2'), progress: null, hooks })).rejects.toThrow(/^step 3: loss is NaN/);
    });

    it("policy 'skip': skipped steps leave the weights untouched and are counted; too many in a row stop the run", async () => {
      const bad = new Set([3, 4]);
      const snapshots = new Map<number, (readonly [string, number[]])[]>();
      let m: TrainableModel | null = null;
      const hooks = {
        afterBackward: ({ step, model }: { step: number; model: TrainableModel }) => { m = model; if (bad.has(step)) model.namedParameters()[1]![1].grad!.data[2] = Infinity; },
        onStepEnd: (r: TrainRecord) => { snapshots.set(r.step, paramsOf(m!)); },
      };
      const r = await train({ ...cfg, nan_policy: 'skip', max_consecutive_skips: 3 }, { model: tinyModel(4), sources, tokenizer, outDir: tempDir('skip'), progress: null, hooks });
      expect(r.skipped).toBe(2);
      expect(trains(r.history).map((x) => x.skipped)).toEqual([false, false, true, true, false, false, false, false]);
      expect(snapshots.get(4)).toEqual(snapshots.get(2));
      expect(snapshots.get(5)).not.toEqual(snapshots.get(4));
      const stop = train({ ...cfg, nan_policy: 'skip', max_consecutive_skips: 2 }, { model: tinyModel(4), sources, tokenizer, outDir: tempDir('skip2'), progress: null, hooks: { afterBackward: hooks.afterBackward } });
      await expect(stop).rejects.toThrow(/^step 4: grad_norm is Infinity \(2 consecutive non-finite steps/);
    });
  });

  it("freezing stages: during a 'gates' stage only gate parameters change", async () => {
    const snaps: (readonly [string, number[]])[][] = [];
    const model = tinyMoeModel(6);
    snaps.push(paramsOf(model));
    await train({ max_steps: 4, batch_size: 2, seq_len: 16, lr: 1e-2, warmup_steps: 0, eval_blocks: 0, quiet: true, stages: [{ steps: 3, trainable: 'gates' }, { trainable: 'all' }] },
      { model, sources, tokenizer, outDir: tempDir('stage'), progress: null, loadModel: (d) => loadTinyMoe(d), hooks: { onStepEnd: () => { snaps.push(paramsOf(model)); } } });
    const changed = (a: (readonly [string, number[]])[], b: (readonly [string, number[]])[]) => a.filter(([, v], i) => v.some((x, j) => x !== b[i]![1][j])).map(([n]) => n);
    const during = changed(snaps[0]!, snaps[3]!);
    expect(during.length).toBeGreaterThan(0);
    expect(during.filter((n) => !n.includes('.mlp.gate.'))).toEqual([]);
    expect(during).toContain('model.layers.0.mlp.gate.gate_network.0.weight');
    const after = changed(snaps[3]!, snaps[4]!);
    expect(after).toContain('model.embed_tokens.weight');
    expect(after).toContain('model.layers.1.mlp.calculator.experts.weight_up.0');
  });

  it('progress: plain lines every log_every steps off a TTY, a bar on a TTY, nothing when quiet; onLog sees every record; tasks are scored at evaluations', async () => {
    const plain: string[] = [];
    const tty: string[] = [];
    const logs: MetricRecord[] = [];
    const tasks = [{ name: 'toy', docs: [{ context: 'The', choices: [' cat', ' dog'], gold: 0 }, { context: 'def', choices: ['(x):', 'yy'], gold: 0 }] }];
    const base = { max_steps: 6, batch_size: 2, seq_len: 16, eval_every: 3, eval_blocks: 1, log_every: 2, save_every: 0, warmup_steps: 1 };
    await train(base, { model: tinyModel(7), sources, tokenizer, outDir: tempDir('p1'), progress: { write: (s) => plain.push(s), isTTY: false }, onLog: (r) => logs.push(r), tasks });
    expect(plain.filter((l) => l.startsWith('step ')).map((l) => l.split(' ')[1])).toEqual(['2/6', '4/6', '6/6']);
    expect(plain.some((l) => l.startsWith('eval @ step 3'))).toBe(true);
    expect(logs.map((r) => `${r.kind}${r.step}`)).toEqual(['eval0', 'train1', 'train2', 'train3', 'eval3', 'train4', 'train5', 'train6', 'eval6']);
    const e = evals(logs)[2]!;
    expect(e.tasks!.toy).toMatchObject({ n: 2 });
    expect(e.tasks!.toy!.acc).toBeGreaterThanOrEqual(0);
    await train(base, { model: tinyModel(7), sources, tokenizer, outDir: tempDir('p2'), progress: { write: (s) => tty.push(s), isTTY: true, columns: 200 } });
    expect(tty.filter((s) => s.startsWith('\r[')).length).toBe(6);
    const quiet: string[] = [];
    await train({ ...base, quiet: true }, { model: tinyModel(7), sources, tokenizer, outDir: tempDir('p3'), progress: { write: (s) => quiet.push(s), isTTY: false } });
    expect(quiet).toEqual([]);
  });
});
