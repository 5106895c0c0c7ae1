/**
 * The library glue behind `train`, `eval` and `export`: folders and config files in, calls into
 * expert-partition (model loading/saving in any of the three formats), data-sampler and trainer.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { MANIFEST_NAME, sourcesFromDir, sourcesFromPackedDataset, holdoutValidation, type DomainSource } from '@llama-moe/data-sampler';
import { getMoeInfo, loadAnyModel, saveMoeModel } from '@llama-moe/expert-partition';
import { loadTokenizer, saveLlama, readLlamaConfig, type LlamaForCausalLM } from '@llama-moe/llama-model';
import {
  evaluateMultipleChoice, evaluatePerplexity, loadMcTask, resolveConfig, train, type MetricRecord, type TrainableModel,
} from '@llama-moe/trainer';
import { CliError, UsageError } from './errors.js';
import { samplerTokenizer } from './commands/data-prepare.js';

/** Keys of a train config file that the CLI consumes (the rest is the trainer's TrainConfig). */
export const CLI_TRAIN_KEYS = ['model', 'data', 'output_dir', 'tasks', 'text_column'] as const;

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.model'];

function copyTokenizer(from: string, to: string): void {
  for (const f of TOKENIZER_FILES) if (existsSync(join(from, f))) copyFileSync(join(from, f), join(to, f));
}

/** Save in the model's own format (dense, llama_moe or mixtral), float32 for exact resume. */
export function saveAnyModel(model: LlamaForCausalLM, dir: string, tokenizerFrom?: string): void {
  if (getMoeInfo(model)) saveMoeModel(model, dir, { dtype: 'float32', overwrite: true });
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

export interface TrainRunOptions { log?: (line: string) => void; quiet?: boolean; progress?: NodeJS.WritableStream | null }

export async function trainFromConfig(config: Record<string, unknown>, opts: TrainRunOptions = {}): Promise<{ step: number; outDir: string; checkpoint: string | null; report: string }> {
  for (const k of ['model', 'data', 'output_dir'] as const) {
    if (typeof config[k] !== 'string' || !(config[k] as string).length) throw new UsageError(`config key '${k}' is required (a path)`, `add '${k}: PATH' to the config or pass --${k.replace(/_/g, '-')} PATH`);
  }
  const modelDir = config.model as string, dataDir = config.data as string, outDir = resolve(config.output_dir as string);
  if (!existsSync(join(modelDir, 'config.json'))) throw new CliError(`model ${modelDir}: no config.json in the folder`, 'pass a Hugging Face model folder');
  const trainerKeys = Object.fromEntries(Object.entries(config).filter(([k]) => !(CLI_TRAIN_KEYS as readonly string[]).includes(k)));
  const data = await dataSources(dataDir, config.text_column as string | undefined);
  if (data.seqLen !== null) {
    if (trainerKeys.seq_len === undefined) trainerKeys.seq_len = data.seqLen;
    else if (trainerKeys.seq_len !== data.seqLen) throw new UsageError(`seq_len ${String(trainerKeys.seq_len)} differs from the packed dataset's ${data.seqLen}`, 'drop seq_len from the config or re-pack the data');
  }
  if (opts.quiet) trainerKeys.quiet = true;
  const cfg = resolveConfig(trainerKeys);
  const { tok, sampler } = modelTokenizer(modelDir);
  const tasks = Array.isArray(config.tasks) ? (config.tasks as string[]).map((f) => ({ name: basename(f).replace(/\.jsonl$/i, ''), docs: loadMcTask(f) })) : undefined;
  const model = loadAnyModel(modelDir);
  const r = await train(cfg, {
    model: model as unknown as TrainableModel,
    sources: data.sources,
    tokenizer: sampler,
    outDir,
    saveModel: (m, dir) => saveAnyModel(m as unknown as LlamaForCausalLM, dir, modelDir),
    loadModel: (dir) => loadAnyModel(dir) as unknown as TrainableModel,
    ...(tasks ? { tasks: tasks as never } : {}),
    onLog: (rec: MetricRecord) => {
      if (!opts.log) return;
      const r2 = rec as unknown as Record<string, unknown>;
      if (r2.kind === 'eval') opts.log(`eval step ${String(r2.step)}: ${JSON.stringify(r2.perplexity ?? r2.val_loss ?? r2)}`);
    },
    progress: opts.quiet ? null : (opts.progress ?? process.stderr),
  });
  void tok;
  return { step: r.step, outDir, checkpoint: r.checkpoint, report: join(outDir, 'report.html') };
}

export interface EvalOptions { modelDir: string; dataDir?: string; taskFile?: string; maxBlocks?: number; batchSize?: number }

export async function evaluateModel(o: EvalOptions): Promise<{ metrics: Record<string, Record<string, number>> }> {
  const model = loadAnyModel(o.modelDir);
  const { tok, sampler } = modelTokenizer(o.modelDir);
  const metrics: Record<string, Record<string, number>> = {};
  if (o.dataDir) {
    const data = await dataSources(o.dataDir);
    const seqLen = data.seqLen ?? Math.min(256, model.config.max_position_embeddings);
    const { validation } = await holdoutValidation({ sources: data.sources, tokenizer: sampler, seqLen, blocksPerDomain: o.maxBlocks ?? 8 });
    const rep = evaluatePerplexity(model as never, validation, { batchSize: o.batchSize ?? 4 });
    for (const [d, r] of Object.entries(rep.perDomain)) metrics[d] = { ...(r as unknown as Record<string, number>) };
    metrics.overall = { ...(rep.overall as unknown as Record<string, number>) };
  }
  if (o.taskFile) {
    const docs = loadMcTask(o.taskFile);
    const r = evaluateMultipleChoice(model as never, { encode: (t: string) => tok.encode(t, { addBos: false, addEos: false }), bosTokenId: tok.bosTokenId ?? 1 }, docs);
    metrics[basename(o.taskFile).replace(/\.jsonl$/i, '')] = { n: r.n, acc: r.acc, acc_stderr: r.acc_stderr, acc_norm: r.acc_norm, acc_norm_stderr: r.acc_norm_stderr };
  }
  return { metrics };
}

export interface ExportOptions { modelDir: string; dataDir: string; outDir: string; zeroStage: number }

/** Launch files for continuing training with PyTorch (transformers Trainer + accelerate/DeepSpeed ZeRO). */
export function launchFiles(o: { modelType: string; zeroStage: number; seqLen: number }): Record<string, string> {
  const ds = {
    bf16: { enabled: 'auto' },
    zero_optimization: o.zeroStage === 0 ? { stage: 0 } : {
      stage: o.zeroStage, overlap_comm: true, contiguous_gradients: true,
      ...(o.zeroStage === 3 ? { stage3_gather_16bit_weights_on_model_save: true } : {}),
    },
    gradient_accumulation_steps: 'auto', gradient_clipping: 'auto', train_batch_size: 'auto', train_micro_batch_size_per_gpu: 'auto',
  };
  const accelerate = [
    'compute_environment: LOCAL_MACHINE',
    'distributed_type: DEEPSPEED',
    'deepspeed_config:',
    `  deepspeed_config_file: ds_zero${o.zeroStage}.json`,
    '  zero3_init_flag: ' + (o.zeroStage === 3 ? 'true' : 'false'),
    'machine_rank: 0',
    'main_training_function: main',
    'num_machines: 1',
    'num_processes: 8',
    'mixed_precision: bf16',
    'use_cpu: false',
    '',
  ].join('\n');
  const remote = o.modelType === 'llama_moe'
    ? "# llama_moe models need the LLaMA-MoE modeling code: copy configuration_llama_moe.py and modeling_llama_moe_hf.py\n# from a released LLaMA-MoE checkpoint into model/ and add their auto_map to config.json, then trust_remote_code=True.\n"
    : '';
  const script = `"""Continue pre-training the exported model with transformers' Trainer (launched by accelerate + DeepSpeed).
Generated by \`llama-moe export\`. Data: data/<domain>/*.arrow (Arrow IPC streams with an input_ids column).
${remote}"""
import glob, os
import datasets, transformers

here = os.path.dirname(os.path.abspath(__file__))
files = sorted(glob.glob(os.path.join(here, "data", "*", "*.arrow")))
ds = datasets.concatenate_datasets([datasets.Dataset.from_file(f) for f in files]).shuffle(seed=0)
ds = ds.map(lambda b: {"labels": b["input_ids"]}, batched=True)
model = transformers.AutoModelForCausalLM.from_pretrained(os.path.join(here, "model"), torch_dtype="auto", trust_remote_code=True)
args = transformers.TrainingArguments(
    output_dir=os.path.join(here, "runs"), per_device_train_batch_size=4, gradient_accumulation_steps=4,
    learning_rate=2e-4, lr_scheduler_type="cosine", warmup_steps=100, weight_decay=0.1, adam_beta1=0.9, adam_beta2=0.95,
    max_grad_norm=1.0, bf16=True, logging_steps=10, save_steps=1000, deepspeed=os.path.join(here, "ds_zero${o.zeroStage}.json"),
    report_to=[],
)
transformers.Trainer(model=model, args=args, train_dataset=ds).train()
`;
  return {
    [`ds_zero${o.zeroStage}.json`]: JSON.stringify(ds, null, 2) + '\n',
    'accelerate_config.yaml': accelerate,
    'train_hf.py': script,
    'launch.sh': '#!/usr/bin/env bash\n# Continue training on GPUs: 8 processes on one machine (edit accelerate_config.yaml for more).\nset -euo pipefail\ncd "$(dirname "$0")"\naccelerate launch --config_file accelerate_config.yaml train_hf.py\n',
    'README.md': `# llama-moe export\n\n- \`model/\`: Hugging Face checkpoint (${o.modelType}), seq_len ${o.seqLen}\n- \`data/\`: tokenised Arrow dataset (one folder per domain; \`datasets.Dataset.from_file\`)\n- \`ds_zero${o.zeroStage}.json\`, \`accelerate_config.yaml\`, \`train_hf.py\`, \`launch.sh\`: \`bash launch.sh\` continues training with transformers' Trainer under DeepSpeed ZeRO-${o.zeroStage}.\n`,
  };
}

export async function exportForPytorch(o: ExportOptions): Promise<{ outDir: string }> {
  const cfg = readLlamaConfig(o.modelDir);
  if (!existsSync(join(o.dataDir, MANIFEST_NAME))) throw new CliError(`--data ${o.dataDir}: no ${MANIFEST_NAME}; not a packed dataset`, 'prepare it with `llama-moe data prepare`');
  const { manifest } = await sourcesFromPackedDataset(o.dataDir);
  const target = resolve(o.outDir);
  const staging = join(dirname(target), `.${basename(target)}.partial-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    cpSync(o.modelDir, join(staging, 'model'), { recursive: true, filter: (src) => !basename(src).startsWith('.') });
    cpSync(o.dataDir, join(staging, 'data'), { recursive: true, filter: (src) => !basename(src).startsWith('.') });
    for (const [name, text] of Object.entries(launchFiles({ modelType: cfg.model_type, zeroStage: o.zeroStage, seqLen: manifest.seq_len }))) {
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
