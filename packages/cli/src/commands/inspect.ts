/**
 * `llama-moe inspect DIR`: what a model folder holds, from config.json and the safetensors
 * headers only (no tensor data is read, so a 7B folder inspects instantly).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openCheckpoint, readLlamaConfigDetailed, type LlamaConfig } from '@llama-moe/llama-model/node';
import { CliError } from '../errors.js';
import { requireInputDir } from '../paths.js';
import { formatBytes, formatCount, renderPairs, renderTable, withCommas } from '../format.js';
import { JSON_OPTION, type CommandArgs, type CommandSpec } from '../command.js';
import { inspectGguf, renderGgufReport } from './inspect-gguf.js';

export interface TensorRow {
  name: string;
  dtype: string;
  shape: number[];
  /** Elements. */
  numel: number;
  bytes: number;
  file: string;
}

export interface InspectReport {
  dir: string;
  model_type: string;
  architectures: string[] | null;
  config: Record<string, unknown>;
  moe: null | { num_experts: number; top_k: number; expert_parameters: number; gate: string | null };
  parameters: { total: number; active_per_token: number };
  dtypes: Record<string, number>;
  files: { name: string; bytes: number }[];
  total_bytes: number;
  tensors: TensorRow[];
  tokenizer: null | { vocab_size: number; file: string };
  notes: string[];
}

/** Expert weights: llama_moe `...mlp.calculator.experts.weight_up.3`, mixtral `...block_sparse_moe.experts.3.w1.weight`. */
const EXPERT_TENSOR = /\.experts\.(\d+\.|[A-Za-z_]+\.\d+$)/;

function moeShape(cfg: LlamaConfig): { E: number; k: number; gate: string | null } | null {
  if (cfg.model_type === 'mixtral') return { E: cfg.num_local_experts ?? 8, k: cfg.num_experts_per_tok ?? 2, gate: 'mixtral top-k softmax' };
  if (cfg.model_type === 'llama_moe') return { E: cfg.num_experts ?? 16, k: cfg.num_selects ?? 4, gate: cfg.gate_type ?? null };
  return null;
}

/** len(tokenizer) from tokenizer.json without building a tokenizer: 1 + the largest id of the vocab and added tokens. */
export function tokenizerJsonVocabSize(file: string): number {
  let json: { model?: { vocab?: Record<string, number> }; added_tokens?: { id?: number }[] };
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof json;
  } catch (e) {
    throw new CliError(`${file}: cannot read the tokenizer (${(e as Error).message})`, 'fix or remove tokenizer.json');
  }
  let max = -1;
  for (const id of Object.values(json.model?.vocab ?? {})) if (typeof id === 'number' && id > max) max = id;
  for (const t of json.added_tokens ?? []) if (typeof t?.id === 'number' && t.id > max) max = t.id;
  return max + 1;
}

export function inspectModel(dir: string): InspectReport {
  if (!fs.existsSync(path.join(dir, 'config.json'))) {
    throw new CliError(`${dir}: no config.json in the folder`, 'pass a Hugging Face model folder (config.json + *.safetensors)');
  }
  const { config: cfg, notes } = readLlamaConfigDetailed(dir);
  const ckpt = openCheckpoint(dir);
  try {
    const tensors: TensorRow[] = ckpt.keys().map((name) => {
      const info = ckpt.info(name);
      return { name, dtype: info.dtype, shape: [...info.shape], numel: info.shape.reduce((a, b) => a * b, 1), bytes: info.byteLength, file: info.file };
    });
    const total = tensors.reduce((s, t) => s + t.numel, 0);
    const dtypes: Record<string, number> = {};
    for (const t of tensors) dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + t.numel;
    const files = ckpt.files.map((f) => ({ name: f, bytes: fs.statSync(path.join(dir, f)).size }));
    const moe = moeShape(cfg);
    let active = total;
    let expertParams = 0;
    if (moe) {
      expertParams = tensors.filter((t) => EXPERT_TENSOR.test(t.name)).reduce((s, t) => s + t.numel, 0);
      // Each token runs k of E experts per layer; with unequal expert sizes this is the average.
      active = total - expertParams + Math.round((expertParams * moe.k) / moe.E);
    }
    const tokFile = path.join(dir, 'tokenizer.json');
    const tokenizer = fs.existsSync(tokFile) ? { vocab_size: tokenizerJsonVocabSize(tokFile), file: 'tokenizer.json' } : null;
    const { extra: _extra, ...typed } = cfg;
    return {
      dir,
      model_type: cfg.model_type,
      architectures: cfg.architectures,
      config: typed as unknown as Record<string, unknown>,
      moe: moe ? { num_experts: moe.E, top_k: moe.k, expert_parameters: expertParams, gate: moe.gate } : null,
      parameters: { total, active_per_token: active },
      dtypes,
      files,
      total_bytes: files.reduce((s, f) => s + f.bytes, 0),
      tensors,
      tokenizer,
      notes,
    };
  } finally {
    ckpt.close();
  }
}

function renderReport(r: InspectReport): string {
  const c = r.config as unknown as LlamaConfig;
  const pairs: [string, string][] = [
    ['model_type', `${r.model_type}${r.architectures ? ` (${r.architectures.join(', ')})` : ''}`],
    ['hidden_size', String(c.hidden_size)],
    ['intermediate_size', String(c.intermediate_size)],
    ['num_hidden_layers', String(c.num_hidden_layers)],
    ['attention heads', `${c.num_attention_heads} query, ${c.num_key_value_heads} key/value, head_dim ${c.head_dim}`],
    ['vocab_size', String(c.vocab_size)],
    ['max_position_embeddings', String(c.max_position_embeddings)],
    ['rope_theta', String(c.rope_theta) + (c.rope_scaling ? `, scaling ${c.rope_scaling.rope_type} x${c.rope_scaling.factor}` : '')],
    ['rms_norm_eps', String(c.rms_norm_eps)],
    ['tie_word_embeddings', String(c.tie_word_embeddings)],
    ['torch_dtype', String(c.torch_dtype)],
  ];
  if (r.moe) {
    pairs.push(['experts', `${r.moe.num_experts}, top-k ${r.moe.top_k}${r.moe.gate ? `, gate ${r.moe.gate}` : ''}`]);
  }
  let s = `${r.dir}\n\nconfig\n${renderPairs(pairs)}\n`;
  s += 'parameters\n';
  const pp: [string, string][] = [['total', `${withCommas(r.parameters.total)} (${formatCount(r.parameters.total)})`]];
  if (r.moe) {
    pp.push(['in experts', `${withCommas(r.moe.expert_parameters)} (${formatCount(r.moe.expert_parameters)})`]);
    pp.push(['active per token', `${withCommas(r.parameters.active_per_token)} (${formatCount(r.parameters.active_per_token)})`]);
  }
  pp.push(['dtypes', Object.entries(r.dtypes).map(([d, n]) => `${d} ${formatCount(n)}`).join(', ')]);
  s += renderPairs(pp) + '\n';
  s += `files (${formatBytes(r.total_bytes)} of weights)\n`;
  const fileRows: [string, string][] = r.files.map((f) => [f.name, formatBytes(f.bytes)]);
  fileRows.push(['tokenizer.json', r.tokenizer ? `${r.tokenizer.vocab_size} tokens` : 'none']);
  s += renderPairs(fileRows).replace(/:(\s)/g, ' $1') + '\n';
  const multiFile = r.files.length > 1;
  const header = ['tensor', 'dtype', 'shape', 'MB', ...(multiFile ? ['file'] : [])];
  const rows = r.tensors.map((t) => [t.name, t.dtype, `[${t.shape.join(', ')}]`, (t.bytes / 1e6).toFixed(2), ...(multiFile ? [t.file] : [])]);
  s += renderTable(header, rows, ['left', 'left', 'left', 'right', 'left']);
  for (const n of r.notes) s += `note: ${n}\n`;
  return s;
}

export const inspectCommand: CommandSpec = {
  name: 'inspect',
  summary: 'Show a model folder: config, parameter counts, dtypes, shards, tensors, tokenizer',
  description:
    'Reads config.json and the safetensors headers (never the tensor data) of a Hugging Face model folder: ' +
    'llama, mistral, llama_moe or mixtral. Prints the config summary, the total parameter count (and for MoE ' +
    'models the parameters active per token: everything outside the experts plus top-k/E of the expert weights), ' +
    'the dtypes, the shard files and their sizes, a table of every tensor, and the tokenizer size if there is one.',
  usage: ['inspect DIR [--json]', 'inspect FILE.gguf [--json]'],
  positionals: [{ name: 'DIR', description: 'Model folder (or a .gguf file: its header) to inspect.', required: true }],
  options: [JSON_OPTION],
  examples: ['llama-moe inspect models/tiny', 'llama-moe inspect models/tiny-moe --json'],
  async run(args: CommandArgs) {
    const dir = args.positionals[0]!;
    if (/\.gguf$/i.test(dir) && fs.existsSync(dir) && fs.statSync(dir).isFile()) {
      const g = inspectGguf(dir);
      args.io.stdout(args.options.json ? JSON.stringify(g, null, 2) + '\n' : renderGgufReport(g));
      return 0;
    }
    requireInputDir(dir, '', 'model folder');
    const r = inspectModel(dir);
    args.io.stdout(args.options.json ? JSON.stringify(r, null, 2) + '\n' : renderReport(r));
    return 0;
  },
};
