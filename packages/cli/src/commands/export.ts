/**
 * `llama-moe export`: hand a model and its data to the PyTorch world: a Hugging Face checkpoint,
 * the tokenised dataset as Arrow, and a launch config for HF Trainer / accelerate with DeepSpeed
 * ZeRO. Inputs are validated here; the export is the trainer package's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MANIFEST_NAME } from '@llama-moe/data-sampler';
import { CliError } from '../errors.js';
import { checkOutputDir, requireInputDir } from '../paths.js';
import { removeStaleStaging } from '../staging-leftovers.js';
import { exportForPytorch } from '../pipeline.js';
import { readTrainConfig } from './train.js';
import type { CommandArgs, CommandSpec } from '../command.js';
import { MODEL_FORMATS, OUTTYPES, PYTORCH_TRAINING_FORMAT, runFormatExport } from './export-format.js';

export interface ExportOptions {
  modelDir: string;
  dataDir: string;
  outDir: string;
  zeroStage: number;
  onProgress?: (done: number, total: number) => void;
}
export type ExportFn = (o: ExportOptions) => unknown;

export async function run(args: CommandArgs): Promise<number> {
  if (args.options.format !== undefined && args.options.format !== PYTORCH_TRAINING_FORMAT) return runFormatExport(args);
  const o = args.options as { model: string; data: string; out: string; 'zero-stage': number; config?: string; 'num-processes': number; 'allow-tokenizer-mismatch'?: boolean };
  if (args.options.outtype !== undefined) throw new CliError('--outtype applies to --format gguf only', 'add --format gguf, or drop --outtype', 2);
  if (o.data === undefined) throw new CliError('--data is required for the PyTorch training export', `pass --data DIR, or --format ${MODEL_FORMATS.join('|')} to export the model alone`, 2);
  const config = o.config !== undefined ? readTrainConfig(o.config) : undefined;
  requireInputDir(o.model, '--model', 'model folder');
  if (!fs.existsSync(path.join(o.model, 'config.json'))) throw new CliError(`--model ${o.model}: no config.json in the folder`, 'pass a Hugging Face model folder');
  requireInputDir(o.data, '--data', 'dataset folder');
  if (!fs.existsSync(path.join(o.data, MANIFEST_NAME))) throw new CliError(`--data ${o.data}: no ${MANIFEST_NAME}; not a packed dataset`, 'prepare it with `llama-moe data prepare`');
  checkOutputDir(o.out);
  removeStaleStaging(o.out, (l) => args.io.stderr(`llama-moe ${args.command}: ${l}\n`));
  await exportForPytorch({
    modelDir: o.model, dataDir: o.data, outDir: o.out, zeroStage: o['zero-stage'], config, numProcesses: o['num-processes'],
    allowTokenizerMismatch: o['allow-tokenizer-mismatch'], warn: (line) => args.io.stderr(`llama-moe export: ${line}\n`),
  });
  if (!args.quiet) args.io.stdout(`wrote ${o.out}: model/, data/ and a ZeRO-${o['zero-stage']} launch config\n`);
  return 0;
}

export const exportCommand: CommandSpec = {
  name: 'export',
  summary: 'Export model + data + launch config for HF Trainer / accelerate (DeepSpeed ZeRO)',
  description:
    'Writes OUT/model (the Hugging Face checkpoint with config.json, safetensors and tokenizer files), OUT/data (the ' +
    'tokenised dataset as Arrow files that `datasets.load_from_disk` / `Dataset.from_file` read) and a launch config: ' +
    'accelerate config plus a DeepSpeed ZeRO JSON (--zero-stage) and a train script invocation for transformers\' Trainer, ' +
    'so training can continue on GPUs with PyTorch. train_hf.py runs with the hyperparameters of --config (the YAML / JSON ' +
    'config of `llama-moe train`; its defaults without it): lr schedule with warm-up and floor, max_steps, global batch, ' +
    'accumulation, AdamW settings, clipping, seed and static domain weights, plus the model\'s balance-loss weight; padding ' +
    'is masked out of the loss. The README.md of the export says what a llama_moe model needs in transformers.',
  usage: ['export --model DIR --data DIR --out DIR [--config FILE] [--zero-stage N] [--num-processes N]   (--format pytorch-training, the default)', 'export --model DIR --format gguf|mixtral|qwen2_moe|llama-moe --out PATH [--outtype f32|f16|bf16|q8_0]'],
  options: [
    { name: 'model', type: 'string', required: true, valueName: 'DIR', description: 'Model folder to export.' },
    { name: 'data', type: 'string', valueName: 'DIR', description: 'Packed dataset folder (from `llama-moe data prepare`); pytorch-training only.' },
    { name: 'format', type: 'string', choices: [PYTORCH_TRAINING_FORMAT, ...MODEL_FORMATS], valueName: 'FMT', description: 'pytorch-training (default: model + data + launch config), gguf (llama.cpp; --out is a file), mixtral, qwen2_moe or llama-moe (Hugging Face folders).' },
    { name: 'outtype', type: 'string', choices: [...OUTTYPES], valueName: 'T', description: 'GGUF tensor type for matrices: f32 (default, exact), f16, bf16 or q8_0.' },
    { name: 'out', type: 'string', required: true, valueName: 'DIR', description: 'New export folder (must not exist, or be empty).' },
    { name: 'zero-stage', type: 'int', min: 0, max: 3, default: 2, description: 'DeepSpeed ZeRO stage of the launch config (0-3, default 2).' },
    { name: 'config', type: 'string', valueName: 'FILE', description: 'Training config (YAML / JSON, as for `llama-moe train`) whose hyperparameters train_hf.py uses (default: the training defaults, docs/training.md).' },
    { name: 'num-processes', type: 'int', min: 1, default: 1, description: 'GPU processes on one machine (accelerate num_processes); the per-process batch is batch_size / N (default 1).' },
    { name: 'allow-tokenizer-mismatch', type: 'boolean', description: "Export --data even if it was packed with another tokenizer than the model's (default: refuse)." },
  ],
  examples: [
    'llama-moe export --model runs/tiny-moe/final --data data/packed --out export/tiny-moe',
    'llama-moe export --model runs/tiny-moe/final --data data/packed --out export/tiny-moe-4gpu --config configs/tiny-moe.yaml --num-processes 4 --zero-stage 3',
    'llama-moe export --model models/tiny --format gguf --out tiny.gguf --outtype q8_0',
  ],
  run,
};
