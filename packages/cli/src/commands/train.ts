/**
 * `llama-moe train --config FILE [--key value ...]`: continual pre-training of an MoE model from a
 * YAML or JSON config, with command-line overrides. The config is read, merged and checked here;
 * the training loop is @llama-moe/trainer's.
 */
import * as fs from 'node:fs';
import { parse as parseYaml, parseDocument } from 'yaml';
import { UsageError } from '../errors.js';
import { suggest } from '../args.js';
import { requireInputFile } from '../paths.js';
import { DEFAULT_TRAIN_CONFIG } from '@llama-moe/trainer';
import { CLI_TRAIN_KEYS, trainFromConfig } from '../pipeline.js';
import type { CommandArgs, CommandSpec } from '../command.js';

/** Config keys the trainer is expected to read (for typo suggestions only; others pass through). */
export const KNOWN_TRAIN_KEYS = [
  'model', 'data', 'output_dir', 'lr', 'learning_rate', 'min_lr', 'lr_scheduler', 'warmup_steps', 'max_steps', 'batch_size',
  'micro_batch_size', 'grad_accum', 'gradient_accumulation_steps', 'seq_len', 'weight_decay', 'adam_beta1', 'adam_beta2',
  'adam_epsilon', 'max_grad_norm', 'seed', 'weights', 'dynamic', 'eval_every', 'eval_steps', 'eval_blocks', 'save_every',
  'save_steps', 'log_every', 'logging_steps', 'resume', 'resume_from', 'trainable', 'freeze', 'aux_loss_coef',
  'balance_loss_weight', 'gate_noise', 'dtype', 'tokens', 'max_tokens', 'validation', 'log_file',
];

/** `1e-4` → 0.0001, `true` → true, `[a, b]` → array, anything else → the string. */
export function parseOverrideValue(raw: string): unknown {
  try {
    const v = parseYaml(raw) as unknown;
    return v === null && raw.trim() !== 'null' && raw.trim() !== '~' ? raw : v;
  } catch {
    return raw;
  }
}

/** `max-steps` → `max_steps`; `optimizer.lr` stays a path. */
export function overrideKey(name: string): string[] {
  return name.split('.').map((p) => p.replace(/-/g, '_'));
}

/** Read a YAML / JSON config file into a plain object; syntax errors name the file and line. */
export function readTrainConfig(file: string): Record<string, unknown> {
  requireInputFile(file, '--config', 'config file');
  const text = fs.readFileSync(file, 'utf8');
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line ?? (e.pos ? text.slice(0, e.pos[0]).split('\n').length : undefined);
    throw new UsageError(`--config ${file}: ${line ? `line ${line}: ` : ''}${e.message.split('\n')[0]}`, 'fix the YAML / JSON syntax');
  }
  const v = doc.toJS() as unknown;
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`--config ${file}: must hold a mapping of settings, got ${Array.isArray(v) ? 'a list' : typeof v}`, 'write key: value lines');
  return v as Record<string, unknown>;
}

/** Apply `--key value` overrides (kebab-case → snake_case, dotted paths into nested mappings). */
export function applyOverrides(config: Record<string, unknown>, extra: Record<string, string[]>, knownKeys: readonly string[] = KNOWN_TRAIN_KEYS): Record<string, unknown> {
  const out = structuredClone(config);
  for (const [name, values] of Object.entries(extra)) {
    if (values.length > 1) throw new UsageError(`--${name} is given more than once`, 'give each override once');
    const keys = overrideKey(name);
    const top = keys[0]!;
    if (!(top in config) && !knownKeys.includes(top)) {
      // Only near-misses are refused (a new key the trainer knows passes through): no prefix matching.
      const s = suggest(top, [...new Set([...Object.keys(config), ...knownKeys])], { prefix: false });
      if (s && s !== top) throw new UsageError(`unknown option '--${name}'`, `did you mean '--${s.replace(/_/g, '-')}'? see 'llama-moe train --help'`);
    }
    let cur = out as Record<string, unknown>;
    for (const k of keys.slice(0, -1)) {
      const next = cur[k];
      if (next === undefined || next === null) cur[k] = {};
      else if (typeof next !== 'object' || Array.isArray(next)) throw new UsageError(`--${name}: '${k}' is not a mapping in the config`, 'override the whole value instead');
      cur = cur[k] as Record<string, unknown>;
    }
    cur[keys[keys.length - 1]!] = parseOverrideValue(values[0]!);
  }
  return out;
}

export type TrainFn = (config: Record<string, unknown>, opts: { log?: (line: string) => void; onProgress?: (step: number, total: number) => void; quiet?: boolean }) => unknown;

export async function run(args: CommandArgs): Promise<number> {
  const o = args.options as { config: string; 'print-config'?: boolean };
  const base = readTrainConfig(o.config);
  // The trainer may publish its own key list; typo suggestions then follow it.
  const known = [...Object.keys(DEFAULT_TRAIN_CONFIG), ...CLI_TRAIN_KEYS];
  const config = applyOverrides(base, args.extra, known);
  if (o['print-config']) {
    args.io.stdout(JSON.stringify(config, null, 2) + '\n');
    return 0;
  }
  const r = await trainFromConfig(config, {
    log: args.quiet ? undefined : (line) => args.io.stderr(line.endsWith('\n') ? line : line + '\n'),
    warn: (line) => args.io.stderr(`llama-moe train: ${line}\n`),
    quiet: args.quiet,
  });
  if (!args.quiet) args.io.stdout(`trained ${r.step} steps; last checkpoint ${r.checkpoint ?? '(none)'}; final model ${r.final ?? '(none)'}; report ${r.report}\n`);
  return 0;
}

export const trainCommand: CommandSpec = {
  name: 'train',
  summary: 'Continual pre-training of an MoE model from a YAML / JSON config',
  description:
    'Reads the training config (YAML or JSON: model, data, output_dir, lr, max_steps, batch_size, seq_len, weights, ' +
    'dynamic, ...) and applies command-line overrides: any other --key value pair sets that key (kebab-case becomes ' +
    'snake_case, dotted keys reach into nested settings, values are read as YAML scalars, so --lr 1e-4 is a number). ' +
    'Training samples the domains with static or dynamic weights, logs loss per domain and saves resumable checkpoints ' +
    'in output_dir (checkpoint-<step>/), and when it finishes output_dir/final/ with the model alone. A folder holding ' +
    'a checkpoint is resumed (the run says from which); Ctrl-C stops after the current step and says how to resume. ' +
    '--print-config shows the merged config without training.',
  usage: ['train --config FILE [--key value ...] [--print-config]'],
  options: [
    { name: 'config', type: 'string', required: true, valueName: 'FILE', description: 'Training config, YAML or JSON.' },
    { name: 'print-config', type: 'boolean', description: 'Print the merged config as JSON and exit.' },
  ],
  allowUnknownOptions: true,
  notes: {
    Overrides: '  llama-moe train --config configs/tiny-moe.yaml --lr 1e-3 --max-steps 30 --batch-size 8 --output-dir runs/tiny-moe-b --domain-weights sheared_llama --eval-every 10 --dynamic.rule llama_moe',
  },
  examples: [
    'llama-moe train --config configs/tiny-moe.yaml',
    'llama-moe train --config configs/tiny-moe.yaml --lr 1e-4 --max-steps 40',
    'llama-moe train --config configs/tiny-moe.yaml --max-steps 5 --print-config',
  ],
  run,
};
