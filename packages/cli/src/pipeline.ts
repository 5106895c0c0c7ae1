/**
 * The library glue behind `train`, `eval` and `export`: folders and config files in, calls into
 * expert-partition (model loading/saving in any of the three formats), data-sampler and trainer.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { MANIFEST_NAME, sourcesFromDir, sourcesFromPackedDataset, holdoutValidation, resolveWeights, type DomainSource, type WeightPreset } from '@llama-moe/data-sampler';
import { moeConfigOf, loadAnyModel, saveMoeModel, setMoeLossSettings, type MoeLossSettings } from '@llama-moe/expert-partition/node';
import { loadTokenizer, saveLlama, readLlamaConfig, type LlamaForCausalLM } from '@llama-moe/llama-model/node';
import {
  evaluateMultipleChoice, evaluatePerplexity, llamaOf, loadMcTask, resolveConfig, train, type TrainableModel, type TrainingInterruptedError,
} from '@llama-moe/trainer';
import { CliError, UsageError } from './errors.js';
import { samplerTokenizer } from './commands/data-prepare.js';
import { checkDataTokenizer } from './tokenizer-check.js';
import { launchFiles } from './pytorch-export.js';
import { cleanupFailedRun, interruptedError, prepareRunFolder, stopOnSigint, writeFinal } from './train-run.js';

/**
 * Train-config keys that set the MoE model's gate losses for the run (and in the checkpoints it
 * writes): the same settings `split --balance-loss-weight / --z-loss-weight / --capacity-factor` store.
 */
export const MOE_LOSS_KEYS = ['balance_loss_weight', 'z_loss_weight', 'capacity_factor'] as const;

/** The MOE_LOSS_KEYS of a config, checked (usage errors name the key); null when none is set. */
export function moeLossSettings(config: Record<string, unknown>): MoeLossSettings | null {
  const out: MoeLossSettings = {};
  const num = (k: string, positive: boolean) => {
    const v = config[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || (positive ? !(v > 0) : !(v >= 0))) throw new UsageError(`config.${k}: must be a number ${positive ? '> 0' : '>= 0'}, got ${JSON.stringify(v)}`, 'fix the config key (or its --key override)');
    return v;
  };
  const b = num('balance_loss_weight', false), z = num('z_loss_weight', false), c = num('capacity_factor', true);
  if (b !== undefined) out.balanceLossWeight = b;
  if (z !== undefined) out.zLossWeight = z;
  if (c !== undefined) out.capacityFactor = c;
  return Object.keys(out).length ? out : null;
}

function applyMoeLosses(model: LlamaForCausalLM, s: MoeLossSettings | null, modelDir: string): LlamaForCausalLM {
  if (!s) return model;
  if (!moeConfigOf(model.config)) throw new UsageError(`config keys ${MOE_LOSS_KEYS.join(' / ')}: model ${modelDir} is dense, it has no gate`, 'drop them, or train an MoE model');
  try {
    setMoeLossSettings(model, s);
  } catch (e) {
    if (e instanceof Error && e.name === 'FormatError') throw new UsageError(`config.${e.message}`, 'fix the config key, or split the model with the gate it needs');
    throw e;
  }
  return model;
}

/** Keys of a train config file that the CLI consumes (the rest is the trainer's TrainConfig). */
export const CLI_TRAIN_KEYS = ['model', 'data', 'output_dir', 'tasks', 'text_column', 'allow_tokenizer_mismatch', ...MOE_LOSS_KEYS] as const;

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.model'];

function copyTokenizer(from: string, to: string): void {
  for (const f of TOKENIZER_FILES) if (existsSync(join(from, f))) copyFileSync(join(from, f), join(to, f));
}

/** Save in the model's own format (dense, llama_moe or mixtral), float32 for exact resume. */
export function saveAnyModel(model: LlamaForCausalLM, dir: string, tokenizerFrom?: string): void {
  if (moeConfigOf(model.config)) saveMoeModel(model, dir, { dtype: 'float32', overwrite: true });
  else saveLlama(model, dir, { dtype: 'float32', overwrite: true });
  if (tokenizerFrom) copyTokenizer(tokenizerFrom, dir);
}

export function modelTokenizer(modelDir: string) {
  if (!existsSync(join(modelDir, 'tokenizer.json'))) throw new CliError(`${modelDir}: no tokenizer.json in the model folder`, 'copy the tokenizer files of the base model into it');
  const tok = loadTokenizer(modelDir, { engine: 'auto' });
  return { tok, sampler: samplerTokenizer(tok, join(modelDir, 'tokenizer.json')) };
}

/** A packed dataset (llama_moe_dataset.json) or a folder of raw-text domain sub-folders. */
export async function dataSources(dir: string, textColumn?: string): Promise<{ sources: DomainSource[]; seqLen: number | null; packed: boolean }> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new CliError(`data ${dir}: is not a folder`, 'pass a packed dataset (`llama-moe data prepare`) or a folder with one sub-folder per domain');
  if (existsSync(join(dir, MANIFEST_NAME))) {
    const { manifest, sources } = await sourcesFromPackedDataset(dir);
    return { sources, seqLen: manifest.seq_len, packed: true };
  }
  return { sources: await sourcesFromDir(dir, textColumn ? { textColumn } : {}), seqLen: null, packed: false };
}

export interface TrainRunOptions {
  log?: (line: string) => void;
  /** Warnings, shown even with --quiet (default: log). */
  warn?: (line: string) => void;
  quiet?: boolean;
  progress?: NodeJS.WritableStream | null;
}

export async function trainFromConfig(config: Record<string, unknown>, opts: TrainRunOptions = {}): Promise<{ step: number; outDir: string; checkpoint: string | null; final: string | null; report: string }> {
  for (const k of ['model', 'data', 'output_dir'] as const) {
    if (typeof config[k] !== 'string' || !(config[k] as string).length) throw new UsageError(`config key '${k}' is required (a path)`, `add '${k}: PATH' to the config or pass --${k.replace(/_/g, '-')} PATH`);
  }
  const modelDir = config.model as string, dataDir = config.data as string, outDir = resolve(config.output_dir as string);
  if (!existsSync(join(modelDir, 'config.json'))) throw new CliError(`model ${modelDir}: no config.json in the folder`, 'pass a Hugging Face model folder');
  const trainerKeys = Object.fromEntries(Object.entries(config).filter(([k]) => !(CLI_TRAIN_KEYS as readonly string[]).includes(k)));
  checkDataTokenizer(dataDir, modelDir, { dataOption: 'data', modelOption: 'model', allowMismatch: config.allow_tokenizer_mismatch === true, warn: (line) => (opts.warn ?? opts.log)?.(line) });
  const data = await dataSources(dataDir, config.text_column as string | undefined);
  if (data.seqLen !== null) {
    if (trainerKeys.seq_len === undefined) trainerKeys.seq_len = data.seqLen;
    else if (trainerKeys.seq_len !== data.seqLen) throw new UsageError(`seq_len ${String(trainerKeys.seq_len)} differs from the packed dataset's ${data.seqLen}`, 'drop seq_len from the config or re-pack the data');
  }
  if (opts.quiet) trainerKeys.quiet = true;
  const cfg = resolveConfig(trainerKeys);
  const { tok, sampler } = modelTokenizer(modelDir);
  const tasks = Array.isArray(config.tasks) ? (config.tasks as string[]).map((f) => ({ name: basename(f).replace(/\.jsonl$/i, ''), docs: loadMcTask(f) })) : undefined;
  const losses = moeLossSettings(config);
  const model = applyMoeLosses(loadAnyModel(modelDir), losses, modelDir);
  const say = opts.log ?? (() => undefined);
  // Ctrl-C from here on stops at the next step boundary (also while the run is being set up).
  const controller = new AbortController();
  const uninstall = stopOnSigint(controller, say);
  let createdByUs = false;
  let r;
  try {
    createdByUs = prepareRunFolder(outDir, say).createdByUs;
    r = await train(cfg, {
      model: model,
      sources: data.sources,
      tokenizer: sampler,
      outDir,
      saveModel: (m, dir) => saveAnyModel(llamaOf(m), dir, modelDir),
      loadModel: (dir) => applyMoeLosses(loadAnyModel(dir), losses, dir),
      ...(tasks ? { tasks: tasks as never } : {}),
      progress: opts.quiet ? null : (opts.progress ?? process.stderr),
      signal: controller.signal,
    });
  } catch (e) {
    if (e instanceof Error && e.name === 'TrainingInterruptedError') {
      const i = e as TrainingInterruptedError;
      cleanupFailedRun(outDir, createdByUs);
      throw interruptedError(i.step, i.checkpoint, outDir);
    }
    cleanupFailedRun(outDir, createdByUs);
    throw e;
  } finally {
    uninstall();
  }
  void tok;
  const final = r.checkpoint ? writeFinal(outDir, r.checkpoint) : null;
  return { step: r.step, outDir, checkpoint: r.checkpoint, final, report: join(outDir, 'report.html') };
}

export interface EvalOptions {
  modelDir: string; dataDir?: string; taskFile?: string;
  /** Blocks per domain; undefined = every block of the split. */
  maxBlocks?: number; batchSize?: number;
  allowTokenizerMismatch?: boolean; warn?: (line: string) => void;
}

export async function evaluateModel(o: EvalOptions): Promise<{ metrics: Record<string, Record<string, number>> }> {
  if (o.dataDir) checkDataTokenizer(o.dataDir, o.modelDir, { dataOption: '--data', modelOption: '--model', allowMismatch: !!o.allowTokenizerMismatch, warn: o.warn ?? (() => undefined) });
  const model = loadAnyModel(o.modelDir);
  const { tok, sampler } = modelTokenizer(o.modelDir);
  const metrics: Record<string, Record<string, number>> = {};
  if (o.dataDir) {
    const data = await dataSources(o.dataDir);
    const seqLen = data.seqLen ?? Math.min(256, model.config.max_position_embeddings);
    // Without --max-blocks the whole split is evaluated, every domain with all the blocks it has.
    const { validation } = await holdoutValidation({ sources: data.sources, tokenizer: sampler, seqLen, blocksPerDomain: o.maxBlocks ?? Number.MAX_SAFE_INTEGER, allowFewer: o.maxBlocks === undefined });
    const rep = evaluatePerplexity(model as never, validation, { batchSize: o.batchSize ?? 4 });
    let blocks = 0;
    for (const [d, r] of Object.entries(rep.perDomain)) {
      metrics[d] = { blocks: validation[d]!.length, ...(r as unknown as Record<string, number>) };
      blocks += validation[d]!.length;
    }
    metrics.overall = { blocks, ...(rep.overall as unknown as Record<string, number>) };
  }
  if (o.taskFile) {
    const docs = loadMcTask(o.taskFile);
    const r = evaluateMultipleChoice(model as never, { encode: (t: string) => tok.encode(t, { addBos: false, addEos: false }), bosTokenId: tok.bosTokenId ?? 1 }, docs);
    metrics[basename(o.taskFile).replace(/\.jsonl$/i, '')] = { n: r.n, acc: r.acc, acc_stderr: r.acc_stderr, acc_norm: r.acc_norm, acc_norm_stderr: r.acc_norm_stderr };
  }
  return { metrics };
}

export interface ExportOptions {
  modelDir: string; dataDir: string; outDir: string; zeroStage: number;
  /** The training config (as `train --config` reads it, overrides applied); defaults when absent. */
  config?: Record<string, unknown>;
  numProcesses?: number;
  allowTokenizerMismatch?: boolean;
  warn?: (line: string) => void;
}

/** The model's balance-loss settings, as transformers' config attributes. */
function modelLossSettings(modelDir: string): Record<string, number | boolean> {
  const raw = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  if (raw.model_type === 'mixtral') return { router_aux_loss_coef: typeof raw.router_aux_loss_coef === 'number' ? raw.router_aux_loss_coef : 0.02, output_router_logits: true };
  if (raw.model_type === 'llama_moe') {
    const out: Record<string, number | boolean> = {};
    for (const k of ['gate_use_balance', 'gate_balance_loss_weight']) if (typeof raw[k] === 'number' || typeof raw[k] === 'boolean') out[k] = raw[k] as number | boolean;
    return out;
  }
  return {};
}

export async function exportForPytorch(o: ExportOptions): Promise<{ outDir: string }> {
  const cfg = readLlamaConfig(o.modelDir);
  if (!existsSync(join(o.dataDir, MANIFEST_NAME))) throw new CliError(`--data ${o.dataDir}: no ${MANIFEST_NAME}; not a packed dataset`, 'prepare it with `llama-moe data prepare`');
  const warn = o.warn ?? (() => undefined);
  checkDataTokenizer(o.dataDir, o.modelDir, { dataOption: '--data', modelOption: '--model', allowMismatch: !!o.allowTokenizerMismatch, warn });
  const { manifest } = await sourcesFromPackedDataset(o.dataDir);
  const trainerKeys = Object.fromEntries(Object.entries(o.config ?? {}).filter(([k]) => !(CLI_TRAIN_KEYS as readonly string[]).includes(k)));
  if (trainerKeys.seq_len !== undefined && trainerKeys.seq_len !== manifest.seq_len) throw new UsageError(`seq_len ${String(trainerKeys.seq_len)} differs from the packed dataset's ${manifest.seq_len}`, 'drop seq_len from the config or re-pack the data');
  const train = resolveConfig({ ...trainerKeys, seq_len: manifest.seq_len });
  const numProcesses = o.numProcesses ?? 1;
  if (train.batch_size % numProcesses !== 0) throw new UsageError(`batch_size ${train.batch_size} does not split evenly over --num-processes ${numProcesses}`, 'pick a number of processes that divides batch_size, so that the global batch stays the same');
  if (train.dynamic) warn('warning: dynamic domain weights are not exported (transformers\' Trainer samples with fixed weights); train_hf.py uses the static domain_weights');
  if (train.stages) warn('warning: freezing stages are not exported; train_hf.py trains every parameter');
  const domainWeights = resolveWeights(train.domain_weights as WeightPreset | Record<string, number>, Object.keys(manifest.domains));
  const target = resolve(o.outDir);
  const staging = join(dirname(target), `.${basename(target)}.partial-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    cpSync(o.modelDir, join(staging, 'model'), { recursive: true, filter: (src) => !basename(src).startsWith('.') });
    cpSync(o.dataDir, join(staging, 'data'), { recursive: true, filter: (src) => !basename(src).startsWith('.') });
    const modelLoss = modelLossSettings(o.modelDir);
    if (JSON.parse(readFileSync(join(o.modelDir, 'config.json'), 'utf8')).gate_type === 'ExpertChoiceGate') {
      warn('warning: the model routes by expert choice (gate_type ExpertChoiceGate), which LLaMA-MoE\'s modelling code does not implement; train_hf.py needs a modelling file that does');
    }
    const losses = moeLossSettings(o.config ?? {});
    if (losses?.balanceLossWeight !== undefined) modelLoss[cfg.model_type === 'mixtral' ? 'router_aux_loss_coef' : 'gate_balance_loss_weight'] = losses.balanceLossWeight;
    if (losses?.zLossWeight) warn('warning: z_loss_weight is not exported (transformers\' Mixtral and LLaMA-MoE\'s modelling code have no router z-loss)');
    const files = launchFiles({ modelType: cfg.model_type, zeroStage: o.zeroStage, numProcesses, seqLen: manifest.seq_len, config: train, domainWeights, modelLoss });
    for (const [name, text] of Object.entries(files)) {
      writeFileSync(join(staging, name), text, { mode: name.endsWith('.sh') ? 0o755 : 0o644 });
    }
    if (existsSync(target)) {
      if (readdirSync(target).length) throw new CliError(`--out ${o.outDir}: folder is not empty`, 'choose a new folder');
      rmSync(target, { recursive: true, force: true });
    }
    renameSync(staging, target);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
  return { outDir: target };
}
