/**
 * `llama-moe merge-experts`: fold the experts of an MoE model back into one dense FFN per layer
 * (the inverse of a disjoint split). The work is @llama-moe/expert-partition's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readLlamaConfig } from '@llama-moe/llama-model/node';
import { CliError } from '../errors.js';
import { checkOutputDir, requireInputDir } from '../paths.js';
import { removeStaleStaging } from '../staging-leftovers.js';
import type { CommandArgs, CommandSpec } from '../command.js';

export interface MergeExpertsOptions {
  modelDir: string;
  outDir: string;
  onProgress?: (done: number, total: number) => void;
}

export async function run(args: CommandArgs): Promise<number> {
  const o = args.options as { model: string; out: string };
  requireInputDir(o.model, '--model', 'model folder');
  if (!fs.existsSync(path.join(o.model, 'config.json'))) throw new CliError(`--model ${o.model}: no config.json in the folder`, 'pass a llama_moe or mixtral model folder');
  const cfg = readLlamaConfig(o.model);
  if (cfg.model_type !== 'llama_moe' && cfg.model_type !== 'mixtral') {
    throw new CliError(`--model ${o.model}: is a dense ${cfg.model_type} model, there are no experts to merge`, 'pass a model written by `llama-moe split`');
  }
  checkOutputDir(o.out);
  removeStaleStaging(o.out, (l) => args.io.stderr(`llama-moe ${args.command}: ${l}\n`));
  const { mergeExpertsToDense } = await import('@llama-moe/expert-partition/node');
  mergeExpertsToDense({ modelDir: o.model, outDir: o.out });
  if (!args.quiet) args.io.stdout(`wrote ${o.out}: dense llama model\n`);
  return 0;
}

export const mergeExpertsCommand: CommandSpec = {
  name: 'merge-experts',
  summary: 'Merge the experts of an MoE model back into a dense LLaMA',
  description:
    'Concatenates the experts of every layer of a llama_moe or mixtral model back into one dense SwiGLU FFN ' +
    '(gate_proj / up_proj rows and down_proj columns, in neuron order) and drops the gates, giving a dense llama ' +
    'folder. For a disjoint split of a dense model with a score scale of 1 this restores the original FFN.',
  usage: ['merge-experts --model MOE --out DENSE'],
  options: [
    { name: 'model', type: 'string', required: true, valueName: 'MOE', description: 'MoE model folder (llama_moe or mixtral).' },
    { name: 'out', type: 'string', required: true, valueName: 'DENSE', description: 'New dense model folder (must not exist, or be empty).' },
  ],
  examples: ['llama-moe merge-experts --model models/tiny-moe --out models/tiny-merged'],
  run,
};
