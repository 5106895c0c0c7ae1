/**
 * `split --format gguf|qwen2_moe`: split into a LLaMA-MoE model with a linear softmax top-k gate
 * (the router both engines run) in a temp folder beside --out, then export it exactly (GGUF
 * `llama` with stacked experts and shared experts folded; or Hugging Face qwen2_moe) and remove
 * the temp folder. The export refuses, writing nothing at --out, when it cannot be exact.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadAnyModel, saveQwen2Moe, writeMoeGguf } from '@llama-moe/expert-partition/node';
import { loadTokenizer } from '@llama-moe/llama-model/node';
import { CliError, UsageError } from '../errors.js';
import { checkOutputDir, checkOutputFile, ensureParentDir } from '../paths.js';
import type { CommandArgs } from '../command.js';
import { copyTokenizerFiles, formatIncompatibility } from './export-format.js';

export const ENGINE_SPLIT_FORMATS = ['gguf', 'qwen2_moe'] as const;

export async function splitToEngineFormat(args: CommandArgs, split: (a: CommandArgs) => Promise<number>): Promise<number> {
  const o = args.options as { out: string; format: 'gguf' | 'qwen2_moe'; 'gate-network'?: string; quiet?: boolean };
  if (o['gate-network'] === 'mlp') throw new UsageError(`--format ${o.format} needs a linear gate; --gate-network mlp cannot be exported`, 'drop --gate-network or use --format llama-moe');
  if (o.format === 'gguf') checkOutputFile(o.out);
  else checkOutputDir(o.out);
  const tmp = `${path.resolve(o.out)}.split-${process.pid}`;
  try {
    const code = await split({ ...args, quiet: true, options: { ...args.options, format: 'llama-moe', 'gate-network': 'linear', out: tmp } });
    if (code !== 0) return code;
    const model = loadAnyModel(tmp);
    const tok = fs.existsSync(path.join(tmp, 'tokenizer.json')) ? loadTokenizer(tmp) : null;
    const why = formatIncompatibility(model, o.format, tok);
    if (why) throw new CliError(`--format ${o.format}: the split model cannot be exported exactly: ${why}`, 'use --format llama-moe');
    if (o.format === 'gguf') {
      ensureParentDir(o.out);
      writeMoeGguf(model, o.out, { tokenizer: tok!, name: path.basename(path.resolve(o.out)) });
    } else {
      saveQwen2Moe(model, o.out, { dtype: 'float32', overwrite: true });
      copyTokenizerFiles(tmp, o.out, tok);
    }
    if (!args.quiet) args.io.stdout(`wrote ${o.out}: ${o.format === 'gguf' ? 'GGUF (llama, f32)' : 'qwen2_moe Hugging Face folder'}\n`);
    return 0;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
