/**
 * Structural validation of trainer_state.json. Trainer.resume hands these fields to the gate RNGs,
 * the optimizer, the sampler and the report, none of which expect a hand-edited or damaged file;
 * every field is checked here (type, range, presence) so a bad file fails with one
 * CheckpointStateError naming the file and the field instead of a TypeError deep inside a resume.
 */
import { CheckpointStateError, TrainConfigError } from './errors.js';
import { resolveConfig } from './config.js';
import type { TrainerState } from './trainer.js';

type Obj = Record<string, unknown>;

class Checker {
  constructor(readonly path: string) {}

  fail(field: string, what: string): never {
    throw new CheckpointStateError('resume', this.path, `field '${field}' ${what}; the file is damaged or was edited (delete this checkpoint folder to resume from an older one)`);
  }

  show(v: unknown): string {
    let s: string;
    try {
      s = JSON.stringify(v) ?? String(v);
    } catch {
      s = String(v);
    }
    return s.length > 60 ? `${s.slice(0, 57)}...` : s;
  }

  obj(v: unknown, field: string): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(field, `must be an object, got ${this.show(v)}`);
    return v as Obj;
  }

  arr(v: unknown, field: string): unknown[] {
    if (!Array.isArray(v)) this.fail(field, `must be an array, got ${this.show(v)}`);
    return v;
  }

  str(v: unknown, field: string): string {
    if (typeof v !== 'string') this.fail(field, `must be a string, got ${this.show(v)}`);
    return v;
  }

  bool(v: unknown, field: string): boolean {
    if (typeof v !== 'boolean') this.fail(field, `must be true or false, got ${this.show(v)}`);
    return v;
  }

  /** Non-negative safe integer, at most `max`. */
  count(v: unknown, field: string, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) this.fail(field, `must be a non-negative integer, got ${this.show(v)}`);
    if (v > max) this.fail(field, `is ${v}, more than ${max}`);
    return v;
  }

  int(v: unknown, field: string): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) this.fail(field, `must be an integer, got ${this.show(v)}`);
    return v;
  }

  finite(v: unknown, field: string, min = -Infinity): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) this.fail(field, `must be a finite number${min > -Infinity ? ` >= ${min}` : ''}, got ${this.show(v)}`);
    return v;
  }

  /** A metric value: JSON writes NaN / Infinity as null, so null is a legitimate value. */
  metric(v: unknown, field: string): void {
    if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) this.fail(field, `must be a number or null, got ${this.show(v)}`);
  }

  numRecord(v: unknown, field: string, each: (x: unknown, f: string) => void): Obj {
    const o = this.obj(v, field);
    for (const [k, x] of Object.entries(o)) each(x, `${field}.${k}`);
    return o;
  }

  /** [L][E] matrix of finite numbers. */
  matrix(v: unknown, field: string): void {
    this.arr(v, field).forEach((row, l) => this.arr(row, `${field}[${l}]`).forEach((x, e) => this.finite(x, `${field}[${l}][${e}]`)));
  }

  strings(v: unknown, field: string): string[] {
    return this.arr(v, field).map((x, i) => this.str(x, `${field}[${i}]`));
  }

  /** data-sampler's RNG state: four uint32 words. */
  words(v: unknown, field: string): void {
    const a = this.arr(v, field);
    if (a.length !== 4) this.fail(field, `must hold four uint32 words, got ${a.length}`);
    a.forEach((x, i) => this.count(x, `${field}[${i}]`, 0xffffffff));
  }
}

function checkRng(c: Checker, v: unknown, st: Obj): void {
  const rng = c.obj(v, 'rng');
  const seen = new Set<number>();
  c.arr(rng.gates, 'rng.gates').forEach((g, i) => {
    const f = `rng.gates[${i}]`;
    const o = c.obj(g, f);
    const layer = c.count(o.layer, `${f}.layer`, 1 << 20);
    if (seen.has(layer)) c.fail(`${f}.layer`, `repeats layer ${layer}`);
    seen.add(layer);
    // tensor-core RngState: xoshiro words plus the cached second normal of a Box–Muller pair.
    const s = c.obj(o.state, `${f}.state`);
    const words = c.arr(s.s, `${f}.state.s`);
    if (words.length !== 4) c.fail(`${f}.state.s`, `must hold four uint32 words, got ${words.length}`);
    words.forEach((x, j) => c.count(x, `${f}.state.s[${j}]`, 0xffffffff));
    if (words.every((x) => x === 0)) c.fail(`${f}.state.s`, 'is all zeros, which no generator reaches');
    if (s.spare !== null) c.finite(s.spare, `${f}.state.spare`);
  });
  void st;
}

function checkSampler(c: Checker, v: unknown): void {
  const s = c.obj(v, 'sampler');
  if (s.version !== 1) c.fail('sampler.version', `must be 1, got ${c.show(s.version)}`);
  const cfg = c.obj(s.config, 'sampler.config');
  c.count(cfg.seqLen, 'sampler.config.seqLen', 1 << 24);
  if (cfg.seqLen === 0) c.fail('sampler.config.seqLen', 'must be >= 1');
  if (typeof cfg.seed !== 'string') c.finite(cfg.seed, 'sampler.config.seed');
  c.bool(cfg.addBos, 'sampler.config.addBos');
  c.bool(cfg.addEos, 'sampler.config.addEos');
  c.str(cfg.remainder, 'sampler.config.remainder');
  c.int(cfg.padId, 'sampler.config.padId');
  c.count(cfg.shuffleBuffer, 'sampler.config.shuffleBuffer', 1 << 24);
  if (cfg.shuffleBuffer === 0) c.fail('sampler.config.shuffleBuffer', 'must be >= 1');
  c.bool(cfg.shuffleFiles, 'sampler.config.shuffleFiles');
  if (cfg.tokenizerHash !== null) c.str(cfg.tokenizerHash, 'sampler.config.tokenizerHash');
  const names = c.strings(cfg.domains, 'sampler.config.domains');
  if (names.length === 0) c.fail('sampler.config.domains', 'is empty');
  const units = c.obj(cfg.units, 'sampler.config.units');
  for (const n of names) c.strings(units[n], `sampler.config.units.${n}`);
  c.words(s.rng, 'sampler.rng');
  c.count(s.step, 'sampler.step');
  c.count(s.samples, 'sampler.samples');
  c.numRecord(s.weights, 'sampler.weights', (x, f) => c.finite(x, f, 0));
  if (s.dynamic !== null) {
    const d = c.obj(s.dynamic, 'sampler.dynamic');
    c.str(d.rule, 'sampler.dynamic.rule');
    c.strings(d.domains, 'sampler.dynamic.domains');
    c.numRecord(d.referenceLoss, 'sampler.dynamic.referenceLoss', (x, f) => c.finite(x, f));
    c.finite(d.eta, 'sampler.dynamic.eta');
    c.finite(d.c, 'sampler.dynamic.c');
    c.numRecord(d.weights, 'sampler.dynamic.weights', (x, f) => c.finite(x, f, 0));
    c.count(d.updates, 'sampler.dynamic.updates');
  }
  const streams = c.arr(s.domains, 'sampler.domains');
  if (streams.length !== names.length) c.fail('sampler.domains', `holds ${streams.length} domain streams for ${names.length} domains`);
  streams.forEach((x, i) => {
    const f = `sampler.domains[${i}]`;
    const d = c.obj(x, f);
    if (d.name !== names[i]) c.fail(`${f}.name`, `is ${c.show(d.name)}, expected "${names[i]}"`);
    c.count(d.epoch, `${f}.epoch`);
    const nUnits = (units[names[i]!] as string[]).length;
    c.arr(d.fileOrder, `${f}.fileOrder`).forEach((k, j) => c.count(k, `${f}.fileOrder[${j}]`, Math.max(0, nUnits - 1)));
    c.count(d.filePos, `${f}.filePos`, (d.fileOrder as unknown[]).length);
    if (d.cursor !== null) {
      const cur = c.obj(d.cursor, `${f}.cursor`);
      c.count(cur.row, `${f}.cursor.row`);
      if (cur.offset !== undefined) c.count(cur.offset, `${f}.cursor.offset`);
    }
    c.bool(d.readerDone, `${f}.readerDone`);
    c.strings(d.buffer, `${f}.buffer`);
    c.str(d.carry, `${f}.carry`);
    c.words(d.rng, `${f}.rng`);
    for (const k of ['docsThisEpoch', 'blocksThisEpoch', 'documents', 'tokens', 'blocks']) c.count(d[k], `${f}.${k}`);
  });
}

function checkMetrics(c: Checker, v: unknown, step: number): void {
  c.arr(v, 'metrics').forEach((x, i) => {
    const f = `metrics[${i}]`;
    const r = c.obj(x, f);
    c.count(r.step, `${f}.step`, step);
    c.numRecord(r.domain_weights, `${f}.domain_weights`, (y, g) => c.metric(y, g));
    if (r.kind === 'train') {
      for (const k of ['loss', 'ce_loss', 'balance_loss', 'lr', 'grad_norm', 'tokens', 'tokens_seen', 'tokens_per_sec', 'gflops_per_sec', 'elapsed_s']) c.metric(r[k], `${f}.${k}`);
      c.int(r.stage, `${f}.stage`);
      c.bool(r.skipped, `${f}.skipped`);
      c.numRecord(r.domain_counts, `${f}.domain_counts`, (y, g) => c.count(y, g));
      if (r.expert_load !== undefined) c.matrix(r.expert_load, `${f}.expert_load`);
      if (r.expert_importance !== undefined) c.matrix(r.expert_importance, `${f}.expert_importance`);
      if (r.dropped_tokens !== undefined) c.arr(r.dropped_tokens, `${f}.dropped_tokens`).forEach((y, j) => c.count(y, `${f}.dropped_tokens[${j}]`));
    } else if (r.kind === 'eval') {
      c.metric(r.val_loss, `${f}.val_loss`);
      c.metric(r.val_ppl, `${f}.val_ppl`);
      c.numRecord(r.val_loss_per_domain, `${f}.val_loss_per_domain`, (y, g) => c.metric(y, g));
      c.numRecord(r.val_ppl_per_domain, `${f}.val_ppl_per_domain`, (y, g) => c.metric(y, g));
      c.bool(r.weights_updated, `${f}.weights_updated`);
      if (r.tasks !== undefined) {
        for (const [name, t] of Object.entries(c.obj(r.tasks, `${f}.tasks`))) {
          const o = c.obj(t, `${f}.tasks.${name}`);
          c.count(o.n, `${f}.tasks.${name}.n`);
          for (const k of ['acc', 'acc_stderr', 'acc_norm', 'acc_norm_stderr']) c.metric(o[k], `${f}.tasks.${name}.${k}`);
        }
      }
    } else {
      c.fail(`${f}.kind`, `must be 'train' or 'eval', got ${c.show(r.kind)}`);
    }
  });
}

/** Optimizer step counts: one non-negative integer per parameter name, none above the run's step. */
export function checkParamSteps(v: unknown, path: string, field = 'optimizer.param_steps', maxStep = Number.MAX_SAFE_INTEGER): Record<string, number> {
  const c = new Checker(path);
  const o = c.obj(v, field);
  for (const [k, x] of Object.entries(o)) c.count(x, `${field}.${k}`, maxStep);
  return o as Record<string, number>;
}

/** Validate a parsed trainer_state.json (at `path`) field by field; returns it typed. */
export function checkTrainerState(json: unknown, path: string, format: string): TrainerState {
  const c = new Checker(path);
  const st = c.obj(json, '(root)');
  if (st.format !== format) c.fail('format', `must be "${format}", got ${c.show(st.format)}`);
  if (st.version !== 1) c.fail('version', `must be 1, got ${c.show(st.version)}`);
  const step = c.count(st.step, 'step');
  c.obj(st.config, 'config');
  try {
    resolveConfig(st.config as Obj);
  } catch (e) {
    if (e instanceof TrainConfigError) c.fail(`config.${e.key}`, `is invalid (${e.message})`);
    throw e;
  }
  c.str(st.config_hash, 'config_hash');
  checkRng(c, st.rng, st);
  if (st.sampler === undefined) c.fail('sampler', 'is missing');
  checkSampler(c, st.sampler);
  const opt = c.obj(st.optimizer, 'optimizer');
  checkParamSteps(opt.param_steps, path, 'optimizer.param_steps', step);
  const nan = c.obj(st.nan, 'nan');
  const total = c.count(nan.total_skips, 'nan.total_skips', step);
  c.count(nan.consecutive_skips, 'nan.consecutive_skips', total);
  c.count(st.tokens_seen, 'tokens_seen');
  c.finite(st.elapsed_s, 'elapsed_s', 0);
  c.numRecord(st.domain_weights, 'domain_weights', (x, f) => c.finite(x, f, 0));
  if (st.routing !== null) {
    const r = c.obj(st.routing, 'routing');
    c.matrix(r.layers, 'routing.layers');
    for (const [d, m] of Object.entries(c.obj(r.domains, 'routing.domains'))) c.matrix(m, `routing.domains.${d}`);
  }
  checkMetrics(c, st.metrics, step);
  return st as unknown as TrainerState;
}
