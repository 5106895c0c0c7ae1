/**
 * `llama-moe eval`: perplexity per domain on a packed dataset, or accuracy on a multiple-choice
 * task file. Inputs are validated here; the evaluation is @llama-moe/trainer's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MANIFEST_NAME } from '@llama-moe/data-sampler';
import { CliError, UsageError } from '../errors.js';
import { requireInputDir, requireInputFile } from '../paths.js';
import { evaluateModel } from '../pipeline.js';
import { renderTable } from '../format.js';
import { exactlyOne } from './logits.js';
import { JSON_OPTION, type CommandArgs, type CommandSpec } from '../command.js';

export interface EvaluateOptions {
  modelDir: string;
  dataDir?: string;
  taskFile?: string;
  maxBlocks?: number;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}
/** Per-domain (or per-task) metrics: name → {loss, ppl, accuracy, ...}. */
export type EvaluateResult = Record<string, unknown> & { metrics?: Record<string, Record<string, number>> };
export type EvaluateFn = (o: EvaluateOptions) => EvaluateResult | Promise<EvaluateResult>;

/** Metrics that count something (blocks, tokens, task examples) print as integers, the rest with 4 decimals. */
const COUNT_METRICS = new Set(['blocks', 'tokens', 'n']);

export function formatMetric(name: string, v: number | undefined): string {
  if (v === undefined) return '-';
  return COUNT_METRICS.has(name) && Number.isInteger(v) ? String(v) : v.toFixed(4);
}

export async function run(args: CommandArgs): Promise<number> {
  const o = args.options as { model: string; data?: string; task?: string; json?: boolean; 'max-blocks'?: number; 'batch-size'?: number; 'allow-tokenizer-mismatch'?: boolean };
  const which = exactlyOne(args, 'data', 'task');
  if (which === 'b' && !/\.jsonl$/i.test(o.task!)) throw new UsageError(`--task ${o.task}: must be a .jsonl file`, 'one JSON object per line: {"context", "choices", "gold"}');
  requireInputDir(o.model, '--model', 'model folder');
  if (!fs.existsSync(path.join(o.model, 'config.json'))) throw new CliError(`--model ${o.model}: no config.json in the folder`, 'pass a Hugging Face model folder');
  if (which === 'a') {
    requireInputDir(o.data!, '--data', 'dataset folder');
    if (!fs.existsSync(path.join(o.data!, MANIFEST_NAME))) throw new CliError(`--data ${o.data}: no ${MANIFEST_NAME}; not a packed dataset`, 'prepare it with `llama-moe data prepare`');
  } else {
    requireInputFile(o.task!, '--task', 'task file');
  }
  const r: EvaluateResult = await evaluateModel({
    modelDir: o.model, dataDir: o.data, taskFile: o.task, maxBlocks: o['max-blocks'], batchSize: o['batch-size'],
    allowTokenizerMismatch: o['allow-tokenizer-mismatch'], warn: (line) => args.io.stderr(`llama-moe eval: ${line}\n`),
  });
  if (o.json) args.io.stdout(JSON.stringify(r, null, 2) + '\n');
  else if (r.metrics) {
    if (which === 'a' && !args.quiet) args.io.stderr(o['max-blocks'] === undefined ? 'evaluated every block of --data (the whole split)\n' : `evaluated at most ${o['max-blocks']} blocks per domain (--max-blocks)\n`);
    const cols = [...new Set(Object.values(r.metrics).flatMap((m) => Object.keys(m)))];
    args.io.stdout(renderTable(['name', ...cols], Object.entries(r.metrics).map(([n, m]) => [n, ...cols.map((c) => formatMetric(c, m[c]))]), ['left', ...cols.map(() => 'right' as const)]));
  } else args.io.stdout(JSON.stringify(r, null, 2) + '\n');
  return 0;
}

export const evalCommand: CommandSpec = {
  name: 'eval',
  summary: 'Evaluate a model: per-domain loss / perplexity, or task accuracy',
  description:
    'With --data: next-token loss and perplexity of the model on a packed dataset, per domain and overall, with the ' +
    'blocks and tokens each domain used (every block of the dataset unless --max-blocks is given). The dataset must ' +
    'have been packed with the model\'s tokenizer (checked against the hash in llama_moe_dataset.json). With --task: ' +
    'accuracy on a multiple-choice JSONL task ({"context", "choices", "gold"} per line), choosing the option with the ' +
    'highest log-likelihood. Works for dense and MoE model folders.',
  usage: ['eval --model DIR (--data DIR | --task FILE.jsonl) [--json]'],
  options: [
    { name: 'model', type: 'string', required: true, valueName: 'DIR', description: 'Model folder.' },
    { name: 'data', type: 'string', valueName: 'DIR', description: 'Packed dataset folder (from `llama-moe data prepare`).' },
    { name: 'task', type: 'string', valueName: 'FILE.jsonl', description: 'Multiple-choice task file.' },
    { name: 'max-blocks', type: 'int', min: 1, description: 'Evaluate at most N blocks per domain (default: every block of --data, the whole split).' },
    { name: 'batch-size', type: 'int', min: 1, description: 'Blocks per forward pass (default 4).' },
    { name: 'allow-tokenizer-mismatch', type: 'boolean', description: "Evaluate --data even if it was packed with another tokenizer than the model's (the numbers are then meaningless; default: refuse)." },
    JSON_OPTION,
  ],
  examples: [
    'llama-moe eval --model models/tiny-moe --data data/packed --max-blocks 20',
    'llama-moe eval --model models/tiny-moe --task examples/choices.jsonl --json',
  ],
  run,
};
