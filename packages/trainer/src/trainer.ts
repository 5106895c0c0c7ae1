/**
 * The training loop: seeded data (MultiDomainSampler), AdamW, warm-up + cosine LR, global-norm
 * clipping, gradient accumulation, freezing stages, NaN/Inf guard, per-domain evaluation with
 * dynamic domain weights, JSONL metrics, a progress display, report.html and exact checkpoints.
 *
 * Order inside an optimizer step i (0-based; logged as step i + 1):
 *   stage for i → zero grads → grad_accum × (nextBatch, forward, backward) → NaN check →
 *   clip → AdamW at lrAt(i) → metrics → [evaluation (+ dynamic weight update)] → [checkpoint].
 * A checkpoint is taken only between steps, after the step's evaluation, so the saved state
 * (parameters, Adam moments and step counts, sampler state, gate-noise RNGs, skip counters,
 * routing totals, history) is everything the remaining steps depend on: a resumed run repeats
 * the uninterrupted one bit for bit.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { RngState } from '@llama-moe/tensor-core';
import type { RoutingRecord } from '@llama-moe/llama-model';
import { atomicWriteFile } from '@llama-moe/llama-model/node';
import { MultiDomainSampler, holdoutValidation, type DomainSource, type DomainWeights, type SamplerState, type Tokenizer, type WeightPreset } from '@llama-moe/data-sampler';
import { configHash, resolveConfig, trajectoryDiff, NON_TRAJECTORY_KEYS, type TrainConfig } from './config.js';
import {
  OPTIMIZER_NAME, TRAINER_STATE_FORMAT, latestCheckpoint, pruneCheckpoints, readOptimizerState, readTrainerStateFile, removePartialCheckpoints, writeCheckpoint,
  type CheckpointPhase,
} from './checkpoint.js';
import { CheckpointStateError, NonFiniteError, TrainConfigError, TrainingInterruptedError } from './errors.js';
import { evaluatePerplexity } from './eval/perplexity.js';
import { evaluateMultipleChoice, type McDoc } from './eval/multiple-choice.js';
import { trainingFlopsPerToken } from './flops.js';
import { checkStagesAgainst, stageIndexAt, trainableFilter } from './freeze.js';
import { appendMetric, metricLine, type EvalRecord, type MetricRecord, type ProgressStream, type TrainRecord } from './metrics.js';
import type { TrainerEvent, TrainerListener } from './events.js';
import { trainingProgress } from './progress-display.js';
import { defaultLoadModel, defaultSaveModel, gateRngs, seedGateRngs, type LoadModelFn, type SaveModelFn, type TrainableModel } from './model.js';
import { AdamW } from './optim/adamw.js';
import { clipCoefficient, globalGradNorm } from './optim/clip.js';
import { lrAt } from './optim/schedule.js';
import { renderReport, type RoutingTotals } from './report/html.js';
import { forwardBackward, zeroGrad, type MicroBatch } from './step.js';

export const METRICS_NAME = 'metrics.jsonl';
export const REPORT_NAME = 'report.html';

export interface TrainerHooks {
  /** After the step's backward, before the NaN check and the update (tests inject NaN here). */
  afterBackward?(ctx: { step: number; model: TrainableModel; loss: number }): void;
  /** After a step's record is logged (before evaluation / checkpoint); a throw aborts the run like a crash. */
  onStepEnd?(record: TrainRecord): void;
  /** At each phase of writing a checkpoint; a throw aborts the run like a crash at that moment. */
  onCheckpointPhase?(phase: CheckpointPhase, step: number, dir: string): void;
}

/** A named multiple-choice task scored at every evaluation. */
export interface McTask {
  name: string;
  docs: McDoc[];
}

export interface TrainInputs {
  model: TrainableModel;
  /** Training domains (validation blocks are held out from them unless `validation` is given). */
  sources: DomainSource[];
  tokenizer: Tokenizer;
  outDir: string;
  saveModel?: SaveModelFn;
  loadModel?: LoadModelFn;
  /** Validation blocks per domain; default: hold out `eval_blocks` blocks per domain from `sources`. */
  validation?: Record<string, Int32Array[]>;
  tasks?: McTask[];
  onLog?: (record: MetricRecord) => void;
  hooks?: TrainerHooks;
  /** Every step, evaluation, checkpoint and NaN-policy decision as it happens. */
  onEvent?: TrainerListener;
  /** Render the run's events on this stream (`trainingProgress`); none by default and when config.quiet. */
  progress?: ProgressStream | null;
  /** 'auto' (default): resume from the latest complete checkpoint in outDir if there is one. */
  resume?: boolean | 'auto';
  /**
   * Stop between two steps once aborted: run() then throws TrainingInterruptedError naming the last
   * complete checkpoint. With a signal, each step first yields to the event loop (one setImmediate),
   * so that a SIGINT handler gets to run during a loop that otherwise never waits on I/O.
   */
  signal?: AbortSignal;
}

export type ResumeInputs = Omit<TrainInputs, 'model' | 'outDir' | 'resume'> & {
  /** When given, must equal the saved config on every key that shapes the trajectory. */
  config?: Partial<TrainConfig>;
};

export interface TrainResult {
  step: number;
  outDir: string;
  history: MetricRecord[];
  /** Final checkpoint folder. */
  checkpoint: string | null;
  /** Steps skipped by nan_policy 'skip'. */
  skipped: number;
  model: TrainableModel;
}

export interface TrainerState {
  format: typeof TRAINER_STATE_FORMAT;
  version: 1;
  step: number;
  config: TrainConfig;
  config_hash: string;
  rng: { gates: { layer: number; state: RngState }[] };
  sampler: SamplerState;
  optimizer: { param_steps: Record<string, number> };
  nan: { consecutive_skips: number; total_skips: number };
  tokens_seen: number;
  elapsed_s: number;
  domain_weights: Record<string, number>;
  routing: RoutingTotals | null;
  metrics: MetricRecord[];
}

interface Internals {
  config: TrainConfig;
  inputs: TrainInputs;
  sampler: MultiDomainSampler;
  validation: Record<string, Int32Array[]> | null;
  optimizer: AdamW;
  step: number;
  history: MetricRecord[];
  routing: RoutingTotals | null;
  nan: { consecutive_skips: number; total_skips: number };
  tokensSeen: number;
  elapsedS: number;
}

export class Trainer {
  readonly config: TrainConfig;
  readonly outDir: string;
  model: TrainableModel;
  readonly sampler: MultiDomainSampler;
  readonly optimizer: AdamW;
  readonly validation: Record<string, Int32Array[]> | null;
  /** Optimizer steps completed. */
  step: number;
  readonly history: MetricRecord[];
  private routing: RoutingTotals | null;
  private nan: { consecutive_skips: number; total_skips: number };
  private tokensSeen: number;
  private elapsedS: number;
  private readonly inputs: TrainInputs;
  private readonly save: SaveModelFn;
  private readonly names: string[];
  private readonly shapes: Map<string, readonly number[]>;
  private readonly flopsPerToken: number;
  private lastCheckpoint: string | null = null;
  private running = false;

  private constructor(s: Internals) {
    this.config = s.config;
    this.inputs = s.inputs;
    this.outDir = s.inputs.outDir;
    this.model = s.inputs.model;
    this.sampler = s.sampler;
    this.optimizer = s.optimizer;
    this.validation = s.validation;
    this.step = s.step;
    this.history = s.history;
    this.routing = s.routing;
    this.nan = s.nan;
    this.tokensSeen = s.tokensSeen;
    this.elapsedS = s.elapsedS;
    this.save = s.inputs.saveModel ?? defaultSaveModel;
    const named = this.model.namedParameters();
    this.names = named.map(([n]) => n);
    this.shapes = new Map(named.map(([n, t]) => [n, t.shape]));
    this.flopsPerToken = trainingFlopsPerToken(this.model, this.config.seq_len);
    this.lastCheckpoint = latestCheckpoint(this.outDir)?.dir ?? null;
  }

  /** A new run in `inputs.outDir` (which must hold no complete checkpoint; use `resume` for that). */
  static async create(config: Partial<TrainConfig> | Record<string, unknown>, inputs: TrainInputs): Promise<Trainer> {
    const cfg = resolveConfig(config);
    const model = inputs.model;
    checkModelFits(cfg, model);
    checkStagesAgainst(cfg.stages, model.namedParameters().map(([n]) => n));
    if (latestCheckpoint(inputs.outDir)) {
      throw new CheckpointStateError('checkpoint', inputs.outDir, 'already holds a checkpoint; resume it (Trainer.resume / train with resume) or choose a new output folder');
    }
    mkdirSync(inputs.outDir, { recursive: true });
    removePartialCheckpoints(inputs.outDir);
    rmSync(join(inputs.outDir, METRICS_NAME), { force: true });
    const { train, validation } = await splitData(cfg, inputs);
    const sampler = new MultiDomainSampler({
      sources: train, tokenizer: inputs.tokenizer, seqLen: cfg.seq_len, seed: cfg.seed, weights: cfg.domain_weights as WeightPreset | DomainWeights,
      shuffleBuffer: cfg.shuffle_buffer,
      dynamic: cfg.dynamic ? { rule: cfg.dynamic.rule, eta: cfg.dynamic.eta, c: cfg.dynamic.c, referenceLoss: cfg.dynamic.reference_loss } : undefined,
    });
    seedGateRngs(model, cfg.seed);
    return new Trainer({
      config: cfg, inputs, sampler, validation, optimizer: new AdamW(cfg), step: 0, history: [], routing: null,
      nan: { consecutive_skips: 0, total_skips: 0 }, tokensSeen: 0, elapsedS: 0,
    });
  }

  /** Continue the run in `outDir` from its latest complete checkpoint. */
  static async resume(outDir: string, inputs: ResumeInputs): Promise<Trainer> {
    const ck = latestCheckpoint(outDir);
    if (!ck) throw new CheckpointStateError('resume', outDir, 'holds no complete checkpoint-<step> folder; start a new run instead');
    const st = readTrainerStateFile(ck.dir);
    let cfg = resolveConfig(st.config);
    if (inputs.config) {
      const given = resolveConfig(inputs.config);
      const diff = trajectoryDiff(cfg, given);
      if (diff.length) {
        throw new TrainConfigError(diff[0]!, `differs from the run being resumed in ${ck.dir} (saved ${JSON.stringify(cfg[diff[0]!])}, given ${JSON.stringify(given[diff[0]!])}${diff.length > 1 ? `; also ${diff.slice(1).join(', ')}` : ''}); resume with the saved config or start a new output folder`);
      }
      // Bookkeeping keys may change on resume.
      const merged = { ...cfg } as Record<string, unknown>;
      for (const k of NON_TRAJECTORY_KEYS) merged[k] = given[k];
      cfg = merged as unknown as TrainConfig;
    }
    if (configHash(cfg) !== st.config_hash) {
      throw new CheckpointStateError('resume', join(ck.dir, 'trainer_state.json'), `config_hash ${st.config_hash} does not match its config (${configHash(cfg)}); the file was edited`);
    }
    removePartialCheckpoints(outDir);
    pruneCheckpoints(outDir, cfg.keep_last);
    const model = await (inputs.loadModel ?? defaultLoadModel)(ck.dir);
    checkModelFits(cfg, model);
    const rngs = gateRngs(model);
    for (const g of st.rng.gates) {
      const r = rngs.find((x) => x.layer === g.layer);
      if (!r) throw new CheckpointStateError('resume', ck.dir, `saved gate-noise RNG for layer ${g.layer}, but the loaded model has no MoE layer there; loadModel must build the same architecture`);
      r.rng.setState(g.state);
    }
    const optimizer = new AdamW(cfg);
    const named = model.namedParameters();
    readOptimizerState(join(ck.dir, OPTIMIZER_NAME), optimizer, st.optimizer.param_steps, new Map(named.map(([n, t]) => [n, t.shape])));
    const full: TrainInputs = { ...inputs, model, outDir, resume: true };
    const { train, validation } = await splitData(cfg, full);
    const sampler = MultiDomainSampler.resume(st.sampler, { sources: train, tokenizer: inputs.tokenizer });
    // metrics.jsonl may hold steps past the checkpoint (they will be redone): rewrite it from the saved history.
    atomicWriteFile(join(outDir, METRICS_NAME), st.metrics.map(metricLine).join(''));
    return new Trainer({
      config: cfg, inputs: full, sampler, validation, optimizer, step: st.step, history: st.metrics, routing: st.routing,
      nan: { ...st.nan }, tokensSeen: st.tokens_seen, elapsedS: st.elapsed_s,
    });
  }

  /** Train until max_steps; writes the final checkpoint and report. */
  async run(): Promise<TrainResult> {
    if (this.running) throw new TrainConfigError('(run)', 'run() is already in progress on this trainer');
    this.running = true;
    const cfg = this.config;
    const display = cfg.quiet || !this.inputs.progress ? null : trainingProgress(this.inputs.progress, cfg.log_every);
    const emit = (e: TrainerEvent) => {
      display?.(e);
      this.inputs.onEvent?.(e);
    };
    const metricsPath = join(this.outDir, METRICS_NAME);
    const t0 = performance.now();
    const elapsedBase = this.elapsedS;
    let stage = Number.NaN;
    const hooks = this.inputs.hooks ?? {};
    try {
      // The step-0 point of the validation curves: the model as it came in, before any update (a new run only).
      if (this.step === 0 && cfg.eval_at_start && cfg.eval_every > 0 && this.validation && cfg.max_steps > 0) {
        const e = this.evaluate({ updateWeights: false });
        this.log(e, metricsPath);
        emit({ type: 'eval', record: e });
      }
      while (this.step < cfg.max_steps) {
        if (this.inputs.signal) {
          await new Promise<void>((r) => setImmediate(r));
          if (this.inputs.signal.aborted) throw new TrainingInterruptedError(this.step, this.lastCheckpoint);
        }
        const i = this.step;
        const s = stageIndexAt(cfg.stages, i);
        if (s !== stage) {
          stage = s;
          this.model.setTrainable(true, s < 0 ? () => true : trainableFilter(cfg.stages![s]!.trainable));
        }
        const named = this.model.namedParameters();
        const trainable = named.filter(([, t]) => t.requiresGrad);
        zeroGrad(named.map(([, t]) => t));
        const lr = lrAt(i, cfg);
        const collect = cfg.stats_every > 0 && (i + 1) % cfg.stats_every === 0;
        const tStep = performance.now();
        const micro: MicroBatch[] = [];
        for (let a = 0; a < cfg.grad_accum; a++) micro.push(await this.sampler.nextBatch(cfg.batch_size));
        const fb = forwardBackward(this.model, micro, { collectStats: collect });
        hooks.afterBackward?.({ step: i + 1, model: this.model, loss: fb.loss });
        const params = trainable.map(([, t]) => t);
        // Clipping is applied inside the AdamW update (same arithmetic, one pass fewer over the gradients).
        const gradNorm = globalGradNorm(params);
        let skipped = false;
        if (!Number.isFinite(fb.loss) || !Number.isFinite(gradNorm)) {
          const what = !Number.isFinite(fb.loss) ? 'loss' : 'grad_norm';
          const value = what === 'loss' ? fb.loss : gradNorm;
          const keep = this.lastCheckpoint ? `the last good checkpoint ${this.lastCheckpoint} is intact` : 'no checkpoint was written yet';
          if (cfg.nan_policy === 'stop') {
            emit({ type: 'nonFinite', step: i + 1, what, value, action: 'stop', consecutiveSkips: this.nan.consecutive_skips });
            throw new NonFiniteError(i + 1, what, value, `nan_policy 'stop': training stopped before the update; ${keep}; lower lr, check the data, or set nan_policy 'skip'`);
          }
          this.nan.consecutive_skips++;
          this.nan.total_skips++;
          const stop = this.nan.consecutive_skips >= cfg.max_consecutive_skips;
          emit({ type: 'nonFinite', step: i + 1, what, value, action: stop ? 'stop' : 'skip', consecutiveSkips: this.nan.consecutive_skips });
          if (stop) {
            throw new NonFiniteError(i + 1, what, value, `${this.nan.consecutive_skips} consecutive non-finite steps (max_consecutive_skips ${cfg.max_consecutive_skips}); ${keep}`);
          }
          skipped = true;
          zeroGrad(params);
        } else {
          this.optimizer.step(trainable, lr, { gradScale: clipCoefficient(gradNorm, cfg.clip_grad_norm) });
          this.nan.consecutive_skips = 0;
        }
        this.step = i + 1;
        const dt = (performance.now() - tStep) / 1000;
        const tokens = cfg.batch_size * cfg.seq_len * cfg.grad_accum;
        this.tokensSeen += tokens;
        const rec: TrainRecord = {
          kind: 'train', step: this.step, loss: fb.loss, ce_loss: fb.ceLoss, balance_loss: fb.balanceLoss, lr, grad_norm: gradNorm,
          tokens, tokens_seen: this.tokensSeen, tokens_per_sec: tokens / Math.max(dt, 1e-9), gflops_per_sec: (this.flopsPerToken * tokens) / Math.max(dt, 1e-9) / 1e9,
          elapsed_s: elapsedBase + (performance.now() - t0) / 1000, stage: s, skipped,
          domain_weights: this.sampler.weights, domain_counts: countDomains(micro, this.sampler.domains),
        };
        if (collect) this.addRouting(rec, micro, fb.records);
        this.log(rec, metricsPath);
        emit({ type: 'step', record: rec, maxSteps: cfg.max_steps });
        hooks.onStepEnd?.(rec);
        let wroteReport = false;
        if (this.evalDue()) {
          const e = this.evaluate();
          this.log(e, metricsPath);
          emit({ type: 'eval', record: e });
          this.writeReport();
          wroteReport = true;
        }
        if ((cfg.save_every > 0 && this.step % cfg.save_every === 0) || this.step === cfg.max_steps) {
          await this.checkpoint();
          emit({ type: 'checkpoint', step: this.step, dir: this.lastCheckpoint! });
          if (!wroteReport) this.writeReport();
        }
      }
      // Also when a resumed run had nothing left to do (crash right after the final checkpoint).
      this.writeReport();
      return { step: this.step, outDir: this.outDir, history: this.history, checkpoint: this.lastCheckpoint, skipped: this.nan.total_skips, model: this.model };
    } finally {
      emit({ type: 'end', step: this.step });
      this.running = false;
    }
  }

  private log(r: MetricRecord, path: string): void {
    this.history.push(r);
    appendMetric(path, r);
    this.inputs.onLog?.(r);
  }

  private evalDue(): boolean {
    if (!this.validation) return false;
    const c = this.config;
    const dyn = c.dynamic ? (c.dynamic.update_every ?? c.eval_every) : 0;
    return (c.eval_every > 0 && this.step % c.eval_every === 0) || (dyn > 0 && this.step % dyn === 0) || (c.eval_every > 0 && this.step === c.max_steps);
  }

  /** Per-domain perplexity (+ tasks); feeds the dynamic weights when an update is due. */
  evaluate(opts: { updateWeights?: boolean } = {}): EvalRecord {
    const c = this.config;
    const v = this.validation ?? {};
    const ppl = evaluatePerplexity(this.model, v, { batchSize: c.eval_batch_size });
    const lossPer = Object.fromEntries(Object.entries(ppl.perDomain).map(([d, r]) => [d, r.loss]));
    const dyn = c.dynamic ? (c.dynamic.update_every ?? c.eval_every) : 0;
    let updated = false;
    if (opts.updateWeights !== false && dyn > 0 && this.step % dyn === 0) {
      this.sampler.update(lossPer);
      updated = true;
    }
    const rec: EvalRecord = {
      kind: 'eval', step: this.step, val_loss: ppl.overall.loss, val_ppl: ppl.overall.ppl, val_loss_per_domain: lossPer,
      val_ppl_per_domain: Object.fromEntries(Object.entries(ppl.perDomain).map(([d, r]) => [d, r.ppl])),
      domain_weights: this.sampler.weights, weights_updated: updated,
    };
    if (this.inputs.tasks?.length) {
      rec.tasks = {};
      for (const t of this.inputs.tasks) {
        const r = evaluateMultipleChoice(this.model, this.inputs.tokenizer, t.docs, { maxLength: Math.min(this.model.config.max_position_embeddings, c.seq_len) });
        rec.tasks[t.name] = { n: r.n, acc: r.acc, acc_stderr: r.acc_stderr, acc_norm: r.acc_norm, acc_norm_stderr: r.acc_norm_stderr };
      }
    }
    return rec;
  }

  private lastElapsed(): number {
    for (let i = this.history.length - 1; i >= 0; i--) {
      const r = this.history[i]!;
      if (r.kind === 'train') return r.elapsed_s;
    }
    return this.elapsedS;
  }

  /** Everything a bit-identical resume needs, as JSON. */
  state(): TrainerState {
    return {
      format: TRAINER_STATE_FORMAT, version: 1, step: this.step, config: this.config, config_hash: configHash(this.config),
      rng: { gates: gateRngs(this.model).map(({ layer, rng }) => ({ layer, state: rng.state() })) },
      sampler: this.sampler.state(), optimizer: { param_steps: this.optimizer.stepCounts() }, nan: { ...this.nan },
      tokens_seen: this.tokensSeen, elapsed_s: this.lastElapsed(), domain_weights: this.sampler.weights, routing: this.routing, metrics: this.history,
    };
  }

  private async checkpoint(): Promise<void> {
    const st = this.state();
    this.lastCheckpoint = await writeCheckpoint({
      outDir: this.outDir, step: this.step, saveModel: (dir) => this.save(this.model, dir), optimizer: this.optimizer,
      paramNames: this.names, shapes: this.shapes, trainerState: st, keepLast: this.config.keep_last,
      onPhase: this.inputs.hooks?.onCheckpointPhase,
    });
  }

  /** Write report.html (atomically). */
  writeReport(): void {
    if (!this.config.report) return;
    const html = renderReport({
      config: this.config as unknown as Record<string, unknown>, history: this.history, routing: this.routing,
      summary: { 'output folder': this.outDir, 'model type': this.model.config.model_type, layers: this.model.config.num_hidden_layers, 'FLOPs / token (train)': this.flopsPerToken.toExponential(3) },
    });
    atomicWriteFile(join(this.outDir, REPORT_NAME), html);
  }

  /** Per-layer load / importance of this step, and cumulative totals by layer and by domain. */
  private addRouting(rec: TrainRecord, micro: readonly MicroBatch[], records: RoutingRecord[][]): void {
    const load: number[][] = [];
    const imp: number[][] = [];
    const dropped: number[] = [];
    micro.forEach((mb, a) => {
      for (const r of records[a] ?? []) {
        const { layer, load: l, importance: i } = r;
        load[layer] = addInto(load[layer], l);
        dropped[layer] = (dropped[layer] ?? 0) + r.dropped;
        imp[layer] = addInto(imp[layer], i);
        this.routing ??= { layers: [], domains: {} };
        this.routing.layers[layer] = addInto(this.routing.layers[layer], l);
        if (mb.domains) attributeToDomains(this.routing, layer, l, r, mb);
      }
    });
    if (load.length) {
      rec.expert_load = Array.from(load, (x) => x ?? []);
      rec.expert_importance = Array.from(imp, (x) => x ?? []);
      rec.dropped_tokens = Array.from(dropped, (x) => x ?? 0);
      if (this.routing) this.routing.layers = Array.from(this.routing.layers, (x) => x ?? []);
    }
  }
}

function addInto(acc: number[] | undefined, v: readonly number[]): number[] {
  const out = acc ?? new Array<number>(v.length).fill(0);
  for (let e = 0; e < v.length; e++) out[e] = (out[e] ?? 0) + v[e]!;
  return out;
}

/**
 * Credit a layer's routing to the batch's domains: exactly per token when the record carries the
 * [N, k] top-k choices of all B·T tokens (token t is row ⌊t / T⌋), else the layer's load split
 * evenly over the rows.
 */
function attributeToDomains(routing: RoutingTotals, layer: number, load: readonly number[], r: RoutingRecord, mb: MicroBatch): void {
  const E = load.length;
  const domains = mb.domains!;
  const slot = (d: string) => {
    const m = (routing.domains[d] ??= []);
    m[layer] ??= new Array<number>(E).fill(0);
    for (let l = 0; l < m.length; l++) m[l] ??= new Array<number>(E).fill(0);
    return m[layer]!;
  };
  const topk = r.topkIndices;
  const N = mb.batchSize * mb.seqLen;
  if (topk.length > 0 && topk.length % N === 0) {
    const k = topk.length / N;
    for (let t = 0; t < N; t++) {
      const row = slot(domains[Math.floor(t / mb.seqLen)]!);
      for (let j = 0; j < k; j++) row[topk[t * k + j]!] = (row[topk[t * k + j]!] ?? 0) + 1;
    }
  } else {
    for (const d of domains) {
      const row = slot(d);
      for (let e = 0; e < E; e++) row[e] = (row[e] ?? 0) + load[e]! / domains.length;
    }
  }
}

function countDomains(micro: readonly MicroBatch[], domains: readonly string[]): Record<string, number> {
  const c: Record<string, number> = Object.fromEntries(domains.map((d) => [d, 0]));
  for (const mb of micro) for (const d of mb.domains ?? []) c[d] = (c[d] ?? 0) + 1;
  return c;
}

function checkModelFits(cfg: TrainConfig, model: TrainableModel): void {
  if (cfg.seq_len > model.config.max_position_embeddings) {
    throw new TrainConfigError('seq_len', `${cfg.seq_len} exceeds the model's max_position_embeddings ${model.config.max_position_embeddings}; lower seq_len`);
  }
}

async function splitData(cfg: TrainConfig, inputs: TrainInputs): Promise<{ train: DomainSource[]; validation: Record<string, Int32Array[]> | null }> {
  if (inputs.validation) return { train: inputs.sources, validation: inputs.validation };
  if (cfg.eval_blocks === 0) return { train: inputs.sources, validation: null };
  const h = await holdoutValidation({ sources: inputs.sources, tokenizer: inputs.tokenizer, seqLen: cfg.seq_len, blocksPerDomain: cfg.eval_blocks });
  return { train: h.train, validation: h.validation };
}

/**
 * Train `inputs.model` with `config`. With `resume: 'auto'` (default) a complete checkpoint in
 * `outDir` is resumed instead (its saved config must match `config` on every trajectory key); the
 * weights then come from the checkpoint through `loadModel`, and `inputs.model` is not used.
 */
export async function train(config: Partial<TrainConfig> | Record<string, unknown>, inputs: TrainInputs): Promise<TrainResult> {
  const mode = inputs.resume ?? 'auto';
  const has = existsSync(inputs.outDir) && latestCheckpoint(inputs.outDir) !== null;
  if (mode === true && !has) throw new CheckpointStateError('resume', inputs.outDir, 'holds no complete checkpoint-<step> folder to resume; drop resume or start a new run');
  const t = has && mode !== false
    ? await Trainer.resume(inputs.outDir, { ...inputs, config: config as Partial<TrainConfig> })
    : await Trainer.create(config, inputs);
  return t.run();
}

