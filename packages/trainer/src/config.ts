/**
 * TrainConfig: one JSON/YAML-compatible object with snake_case keys. Defaults follow the
 * LLaMA-MoE continual pre-training recipe (AdamW β = (0.9, 0.95), weight decay 0.1, peak LR 2e-4,
 * 100 warm-up steps, cosine to 10 % of the peak, global-norm clipping at 1.0). `resolveConfig`
 * fills defaults and validates every key, throwing a TrainConfigError that names the bad key.
 */
import { createHash } from 'node:crypto';
import { suggest } from '@llama-moe/llama-model';
import { TrainConfigError } from './errors.js';

export type LrScheduler = 'cosine' | 'linear' | 'constant';
export type NanPolicy = 'stop' | 'skip';
export type DynamicRuleName = 'sheared_llama' | 'llama_moe';

/** A freezing stage: train only parameters matching `trainable` for `steps` optimizer steps. */
export interface StageConfig {
  /** Length of the stage in optimizer steps; the last stage may omit it (runs to max_steps). */
  steps?: number;
  /**
   * Named groups 'all' | 'gates' | 'experts' | 'mlp' | 'attention' | 'embeddings' | 'norms', or a
   * regular expression over Hugging Face parameter names written as '/pattern/flags'; an array
   * trains the union.
   */
  trainable: string | string[];
}

export interface DynamicConfig {
  rule: DynamicRuleName;
  /** Step size η (sheared_llama). Default 1. */
  eta?: number;
  /** Uniform smoothing c (sheared_llama). Default 1e-4. */
  c?: number;
  /** Update the domain weights every N optimizer steps (evaluating per-domain validation loss). Default eval_every. */
  update_every?: number;
  /** Per-domain reference losses; default LLaMA-2-7B on SlimPajama. */
  reference_loss?: Record<string, number>;
}

export interface TrainConfig {
  /** Peak learning rate. */
  lr: number;
  /** LR floor as a fraction of the peak (cosine / linear decay end). */
  min_lr_ratio: number;
  warmup_steps: number;
  lr_scheduler: LrScheduler;
  max_steps: number;
  /** Sequences per micro-batch. */
  batch_size: number;
  /** Micro-batches per optimizer step. */
  grad_accum: number;
  seq_len: number;
  weight_decay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Global gradient-norm clip; 0 disables clipping (the norm is still measured and logged). */
  clip_grad_norm: number;
  /** Evaluate (per-domain perplexity) every N steps; 0 = never. */
  eval_every: number;
  /** Also evaluate once before the first step of a new run (the step-0 point of the curves); never updates domain weights. */
  eval_at_start: boolean;
  /** Held-out blocks per domain for validation; 0 = no validation split. */
  eval_blocks: number;
  eval_batch_size: number;
  /** Write a checkpoint every N steps (and at the end); 0 = only at the end. */
  save_every: number;
  /** Keep the newest N checkpoints; 0 = keep all. */
  keep_last: number;
  seed: number;
  domain_weights: string | Record<string, number>;
  /** Dynamic domain weights (null = static). */
  dynamic: DynamicConfig | null;
  /** Freezing stages (null = train everything). */
  stages: StageConfig[] | null;
  nan_policy: NanPolicy;
  /** With nan_policy 'skip': stop after this many consecutive skipped steps. */
  max_consecutive_skips: number;
  /** Collect per-layer routing statistics every N steps; 0 = never. */
  stats_every: number;
  /** Plain progress line every N steps when stderr is not a TTY. */
  log_every: number;
  /** No terminal output at all. */
  quiet: boolean;
  /** Write report.html at every evaluation, checkpoint and at the end. */
  report: boolean;
  /** Documents per domain in the sampler's shuffle buffer (LLaMA-MoE: 200). */
  shuffle_buffer: number;
}

export const DEFAULT_TRAIN_CONFIG: Readonly<TrainConfig> = Object.freeze({
  lr: 2e-4,
  min_lr_ratio: 0.1,
  warmup_steps: 100,
  lr_scheduler: 'cosine',
  max_steps: 1000,
  batch_size: 8,
  grad_accum: 1,
  seq_len: 2048,
  weight_decay: 0.1,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  clip_grad_norm: 1.0,
  eval_every: 100,
  eval_at_start: true,
  eval_blocks: 4,
  eval_batch_size: 4,
  save_every: 100,
  keep_last: 3,
  seed: 0,
  domain_weights: 'uniform',
  dynamic: null,
  stages: null,
  nan_policy: 'stop',
  max_consecutive_skips: 5,
  stats_every: 10,
  log_every: 10,
  quiet: false,
  report: true,
  shuffle_buffer: 200,
} as TrainConfig);

/** Keys that change only bookkeeping, never the loss trajectory: they may differ on resume. */
export const NON_TRAJECTORY_KEYS: readonly (keyof TrainConfig)[] = ['save_every', 'keep_last', 'log_every', 'quiet', 'stats_every', 'report', 'eval_at_start'];

const KEYS = Object.keys(DEFAULT_TRAIN_CONFIG) as (keyof TrainConfig)[];
const WEIGHT_PRESETS = ['uniform', 'llama1', 'sheared_llama'];
const GROUPS = ['all', 'gates', 'experts', 'mlp', 'attention', 'embeddings', 'norms'];

/** The closest of `options` within a typo's distance, or null (whole-name distance: no prefix matches). */
function closest(key: string, options: readonly string[]): string | null {
  return suggest(key, options, { prefix: false });
}

function num(key: string, v: unknown, o: { int?: boolean; min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean } = {}): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TrainConfigError(key, `must be a finite number, got ${JSON.stringify(v)}`);
  if (o.int && !Number.isInteger(v)) throw new TrainConfigError(key, `must be an integer, got ${v}`);
  if (o.min !== undefined && (o.minExclusive ? v <= o.min : v < o.min)) throw new TrainConfigError(key, `must be ${o.minExclusive ? '>' : '>='} ${o.min}, got ${v}`);
  if (o.max !== undefined && (o.maxExclusive ? v >= o.max : v > o.max)) throw new TrainConfigError(key, `must be ${o.maxExclusive ? '<' : '<='} ${o.max}, got ${v}`);
  return v;
}

function oneOf<T extends string>(key: string, v: unknown, options: readonly T[]): T {
  if (typeof v !== 'string' || !options.includes(v as T)) throw new TrainConfigError(key, `must be one of ${options.map((s) => `'${s}'`).join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

function bool(key: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new TrainConfigError(key, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates one trainable pattern ('gates', '/regex/i', ...) and returns it. */
export function checkTrainablePattern(key: string, p: unknown): string {
  if (typeof p !== 'string' || p.length === 0) throw new TrainConfigError(key, `must be a group name (${GROUPS.join(', ')}) or '/regex/', got ${JSON.stringify(p)}`);
  if (p.startsWith('/')) {
    const m = /^\/(.*)\/([a-z]*)$/s.exec(p);
    if (!m) throw new TrainConfigError(key, `regex ${JSON.stringify(p)} must be written '/pattern/flags'`);
    try {
      new RegExp(m[1]!, m[2]);
    } catch (e) {
      throw new TrainConfigError(key, `invalid regex ${JSON.stringify(p)}: ${(e as Error).message}`);
    }
    return p;
  }
  if (!GROUPS.includes(p)) {
    const near = closest(p, GROUPS);
    throw new TrainConfigError(key, `unknown group '${p}'${near ? ` (did you mean '${near}'?)` : ''}; use ${GROUPS.join(', ')} or '/regex/'`);
  }
  return p;
}

/** Fill defaults and validate. Throws TrainConfigError naming the first bad key. */
export function resolveConfig(input: Partial<TrainConfig> | Record<string, unknown> = {}): TrainConfig {
  if (!isPlainObject(input)) throw new TrainConfigError('(root)', `must be an object of snake_case keys, got ${JSON.stringify(input)}`);
  for (const k of Object.keys(input)) {
    if (!(KEYS as string[]).includes(k)) {
      const near = closest(k, KEYS);
      throw new TrainConfigError(k, `unknown key${near ? ` (did you mean '${near}'?)` : ''}; valid keys: ${KEYS.join(', ')}`);
    }
  }
  const c = { ...DEFAULT_TRAIN_CONFIG, ...(input as Partial<TrainConfig>) } as TrainConfig;
  for (const k of KEYS) if ((c as unknown as Record<string, unknown>)[k] === undefined) (c as unknown as Record<string, unknown>)[k] = (DEFAULT_TRAIN_CONFIG as unknown as Record<string, unknown>)[k];
  num('lr', c.lr, { min: 0 });
  num('min_lr_ratio', c.min_lr_ratio, { min: 0, max: 1 });
  num('warmup_steps', c.warmup_steps, { int: true, min: 0 });
  oneOf('lr_scheduler', c.lr_scheduler, ['cosine', 'linear', 'constant'] as const);
  num('max_steps', c.max_steps, { int: true, min: 1 });
  num('batch_size', c.batch_size, { int: true, min: 1 });
  num('grad_accum', c.grad_accum, { int: true, min: 1 });
  num('seq_len', c.seq_len, { int: true, min: 2 });
  num('weight_decay', c.weight_decay, { min: 0 });
  num('beta1', c.beta1, { min: 0, max: 1, maxExclusive: true });
  num('beta2', c.beta2, { min: 0, max: 1, maxExclusive: true });
  num('eps', c.eps, { min: 0, minExclusive: true });
  num('clip_grad_norm', c.clip_grad_norm, { min: 0 });
  num('eval_every', c.eval_every, { int: true, min: 0 });
  num('eval_blocks', c.eval_blocks, { int: true, min: 0 });
  num('eval_batch_size', c.eval_batch_size, { int: true, min: 1 });
  num('save_every', c.save_every, { int: true, min: 0 });
  num('keep_last', c.keep_last, { int: true, min: 0 });
  num('seed', c.seed, { int: true });
  if (typeof c.domain_weights === 'string') {
    oneOf('domain_weights', c.domain_weights, WEIGHT_PRESETS);
  } else if (isPlainObject(c.domain_weights)) {
    for (const [d, w] of Object.entries(c.domain_weights)) num(`domain_weights.${d}`, w, { min: 0 });
  } else {
    throw new TrainConfigError('domain_weights', `must be a preset (${WEIGHT_PRESETS.join(', ')}) or a {domain: weight} map, got ${JSON.stringify(c.domain_weights)}`);
  }
  if (c.dynamic !== null) {
    if (!isPlainObject(c.dynamic)) throw new TrainConfigError('dynamic', `must be null or {rule, eta, c, update_every}, got ${JSON.stringify(c.dynamic)}`);
    const allowed = ['rule', 'eta', 'c', 'update_every', 'reference_loss'];
    for (const k of Object.keys(c.dynamic)) if (!allowed.includes(k)) throw new TrainConfigError(`dynamic.${k}`, `unknown key; valid keys: ${allowed.join(', ')}`);
    oneOf('dynamic.rule', c.dynamic.rule, ['sheared_llama', 'llama_moe'] as const);
    if (c.dynamic.eta !== undefined) num('dynamic.eta', c.dynamic.eta, { min: 0 });
    if (c.dynamic.c !== undefined) num('dynamic.c', c.dynamic.c, { min: 0, max: 1 });
    if (c.dynamic.update_every !== undefined) num('dynamic.update_every', c.dynamic.update_every, { int: true, min: 1 });
    if (c.dynamic.reference_loss !== undefined) {
      if (!isPlainObject(c.dynamic.reference_loss)) throw new TrainConfigError('dynamic.reference_loss', 'must be a {domain: loss} map');
      for (const [d, v] of Object.entries(c.dynamic.reference_loss)) num(`dynamic.reference_loss.${d}`, v);
    }
    if (c.eval_blocks === 0) throw new TrainConfigError('dynamic', 'needs validation data to measure per-domain losses; set eval_blocks > 0');
    if ((c.dynamic.update_every ?? c.eval_every) === 0) throw new TrainConfigError('dynamic.update_every', 'is unset and eval_every is 0, so weights would never update; set one of them');
  }
  if (c.stages !== null) {
    if (!Array.isArray(c.stages) || c.stages.length === 0) throw new TrainConfigError('stages', `must be null or a non-empty list of {steps, trainable}, got ${JSON.stringify(c.stages)}`);
    c.stages.forEach((s, i) => {
      const k = `stages[${i}]`;
      if (!isPlainObject(s)) throw new TrainConfigError(k, `must be {steps, trainable}, got ${JSON.stringify(s)}`);
      for (const kk of Object.keys(s)) if (kk !== 'steps' && kk !== 'trainable') throw new TrainConfigError(`${k}.${kk}`, 'unknown key; a stage has steps and trainable');
      if (s.steps === undefined) {
        if (i !== c.stages!.length - 1) throw new TrainConfigError(`${k}.steps`, 'is required for every stage but the last');
      } else {
        num(`${k}.steps`, s.steps, { int: true, min: 1 });
      }
      const pats = Array.isArray(s.trainable) ? s.trainable : [s.trainable];
      if (pats.length === 0) throw new TrainConfigError(`${k}.trainable`, 'must name at least one group or regex');
      pats.forEach((p, j) => checkTrainablePattern(Array.isArray(s.trainable) ? `${k}.trainable[${j}]` : `${k}.trainable`, p));
    });
  }
  oneOf('nan_policy', c.nan_policy, ['stop', 'skip'] as const);
  num('max_consecutive_skips', c.max_consecutive_skips, { int: true, min: 1 });
  num('stats_every', c.stats_every, { int: true, min: 0 });
  num('log_every', c.log_every, { int: true, min: 1 });
  bool('quiet', c.quiet);
  bool('report', c.report);
  bool('eval_at_start', c.eval_at_start);
  num('shuffle_buffer', c.shuffle_buffer, { int: true, min: 1 });
  // A deep copy: the trainer owns its config; callers mutating theirs later change nothing.
  return JSON.parse(JSON.stringify(c)) as TrainConfig;
}

/** JSON with sorted keys at every level (stable hashing). */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isPlainObject(v)) return `{${Object.keys(v).sort().filter((k) => v[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/** sha256 over the keys that shape the loss trajectory (not logging / checkpoint cadence). */
export function configHash(c: TrainConfig): string {
  const t: Record<string, unknown> = { ...c };
  for (const k of NON_TRAJECTORY_KEYS) delete t[k];
  return `sha256:${createHash('sha256').update(canonicalJson(t)).digest('hex').slice(0, 16)}`;
}

/** Keys whose values differ between two configs (trajectory keys only). */
export function trajectoryDiff(a: TrainConfig, b: TrainConfig): (keyof TrainConfig)[] {
  return KEYS.filter((k) => !NON_TRAJECTORY_KEYS.includes(k) && canonicalJson(a[k]) !== canonicalJson(b[k]));
}
