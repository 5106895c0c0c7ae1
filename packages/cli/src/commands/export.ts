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
import type { CommandArgs, CommandSpec } from '../command.js';

export interface ExportOptions {
  modelDir: string;
  dataDir: string;
  outDir: string;
  zeroStage: number;
  onProgress?: (done: number, total: number) => void;
}
export type ExportFn = (o: ExportOptions) => unknown;
export const EXPORT_FUNCTION_NAMES = ['exportForPytorch', 'exportForHf', 'exportHf'] as const;

export async function run(args: CommandArgs): Promise<number> {
  const o = args.options as { model: string; data: string; out: string; 'zero-stage': number };
  requireInputDir(o.model, '--model', 'model folder');
  if (!fs.existsSync(path.join(o.model, 'config.json'))) throw new CliError(`--model ${o.model}: no config.json in the folder`, 'pass a Hugging Face model folder');
  requireInputDir(o.data, '--data', 'dataset folder');
  if (!fs.existsSync(path.join(o.data, MANIFEST_NAME))) throw new CliError(`--data ${o.data}: no ${MANIFEST_NAME}; not a packed dataset`, 'prepare it with `llama-moe data prepare`');
  checkOutputDir(o.out);
  removeStaleStaging(o.out, (l) => args.io.stderr(`llama-moe ${args.command}: ${l}\n`));
  await exportForPytorch({ modelDir: o.model, dataDir: o.data, outDir: o.out, zeroStage: o['zero-stage'] });
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
    'so training can continue on GPUs with PyTorch.',
  usage: ['export --model DIR --data DIR --out DIR [--zero-stage N]'],
  options: [
    { name: 'model', type: 'string', required: true, valueName: 'DIR', description: 'Model folder to export.' },
    { name: 'data', type: 'string', required: true, valueName: 'DIR', description: 'Packed dataset folder (from `llama-moe data prepare`).' },
    { name: 'out', type: 'string', required: true, valueName: 'DIR', description: 'New export folder (must not exist, or be empty).' },
    { name: 'zero-stage', type: 'int', min: 0, max: 3, default: 2, description: 'DeepSpeed ZeRO stage of the launch config (0-3, default 2).' },
  ],
  examples: ['llama-moe export --model runs/tiny-moe/final --data data/packed --out export/tiny-moe'],
  run,
};
