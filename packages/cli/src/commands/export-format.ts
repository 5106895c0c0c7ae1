/**
 * Exports of a model folder to the formats engines run: GGUF (llama.cpp), Mixtral and LLaMA-MoE
 * Hugging Face folders; and the export check that says, for every target, whether the export is
 * exact, approximate or impossible (with the reason), before anything is written.
 *
 * Exactness: f32 GGUF and the HF folders reproduce the project's logits to float32 rounding
 * (checked in llama.cpp by the packages' tests); f16 / bf16 / q8_0 GGUF round the weights, so
 * they are approximate, with the logit difference measured here on the model itself.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ggufMoeIncompatibility, moeConfigOf, mixtralIncompatibility, qwen2MoeIncompatibility, saveMoeModel, saveQwen2Moe, writeMoeGguf } from '@llama-moe/expert-partition/node';
import { f16ToF32, f32ToBf16, bf16ToF32, f32ToF16, noGrad } from '@llama-moe/tensor-core';
import {
  atomicWriteFile,
  openCheckpoint,
  readLlamaConfig,
  writeCheckpointGguf,
  type LlamaConfig,
  saveTokenizerFiles,
  dequantizeQ8_0,
  sentencePieceModelBytes,
  ggufTokenizerKind,
  quantizeQ8_0,
  type GgufOutType,
  type LlamaForCausalLM,
  type Tokenizer,
} from '@llama-moe/llama-model/node';
import { CliError, UsageError } from '../errors.js';
import { checkOutputDir, checkOutputFile, ensureParentDir } from '../paths.js';
import { loadFolderTokenizer, loadModelFolder } from '../model-io.js';
import { isGgufFile } from '../gguf-source.js';
import type { CommandArgs } from '../command.js';

/** Formats `export --format` writes (besides `pytorch-training`, the training hand-off). */
export const MODEL_FORMATS = ['gguf', 'mixtral', 'qwen2_moe', 'llama-moe'] as const;
export type ModelFormat = (typeof MODEL_FORMATS)[number];
export const PYTORCH_TRAINING_FORMAT = 'pytorch-training';
export const OUTTYPES: readonly GgufOutType[] = ['f32', 'f16', 'bf16', 'q8_0'];

export type Exactness = 'exact' | 'approximate' | 'impossible';

export interface ExportTargetReport {
  /** `gguf` (with its outtype), `mixtral`, `llama-moe`, `qwen2_moe`. */
  target: string;
  format: ModelFormat;
  outtype: GgufOutType | null;
  status: Exactness;
  /** One line: why impossible, or what is approximate. */
  reason: string | null;
  /** approximate: max |Δlogit| / max |logit| measured on a probe sequence. */
  measured_rel_logit_diff: number | null;
}

/** The model's tokenizer: tokenizer.json of a folder, or the tokenizer.ggml metadata of a GGUF file. */
export function tokenizerOf(dir: string): Tokenizer | null {
  return loadFolderTokenizer(dir);
}

/** Why `model` cannot be a `format` export, or null. */
export function formatIncompatibility(model: LlamaForCausalLM, format: ModelFormat, tok: Tokenizer | null): string | null {
  const info = moeConfigOf(model.config);
  if (format === 'gguf') {
    if (!tok) return 'the model folder has no tokenizer.json, and llama.cpp needs the vocabulary in the GGUF';
    const k = ggufTokenizerKind(tok);
    if ('reason' in k) return `tokenizer: ${k.reason}`;
    if (tok.vocabSize > model.config.vocab_size) return `tokenizer has ${tok.vocabSize} tokens, more than vocab_size ${model.config.vocab_size}`;
    if (model.config.head_dim % 2 !== 0) return `head_dim ${model.config.head_dim} is odd`;
    return ggufMoeIncompatibility(model);
  }
  if (format === 'qwen2_moe') return qwen2MoeIncompatibility(model);
  if (!info) return `a dense model has no ${format} form; split it into experts first (\`llama-moe split\`)`;
  if (format === 'mixtral') return info.format === 'mixtral' ? null : mixtralIncompatibility(model.config, info.spec);
  return null; // llama-moe holds every MoE the project builds
}

/** A copy of the model's weights rounded as `outtype` stores matrices (norms and routers stay f32). */
function roundedLogits(model: LlamaForCausalLM, outtype: GgufOutType, ids: Int32Array): Float32Array {
  const saved: Array<[Float32Array, Float32Array]> = [];
  try {
    for (const [name, t] of model.namedParameters()) {
      if (t.shape.length < 2 || /gate\.(weight|gate_network)/.test(name)) continue;
      const d = t.f32();
      saved.push([d, d.slice()]);
      if (outtype === 'f16') d.set(f16ToF32(f32ToF16(d)));
      else if (outtype === 'bf16') d.set(bf16ToF32(f32ToBf16(d)));
      else if (outtype === 'q8_0') {
        const cols = t.shape[t.shape.length - 1]!;
        if (cols % 32 === 0) d.set(dequantizeQ8_0(quantizeQ8_0(d)));
        else d.set(f16ToF32(f32ToF16(d)));
      }
    }
    return noGrad(() => model.logits(ids).f32()).slice();
  } finally {
    for (const [d, orig] of saved) d.set(orig);
  }
}

/** The cost of folding shared experts into every routed expert (GGUF), or null when there are none. */
function sharedNote(model: LlamaForCausalLM): string | null {
  let shared = 0, routed = 0, E = 0;
  for (const L of model.weights.layers) {
    const f = L.mlp as unknown as { shared?: { gate: { shape: readonly number[] } }[]; sizes?: number[] };
    if (!f.shared?.length || !f.sizes) continue;
    shared = Math.max(shared, f.shared.reduce((s, e) => s + e.gate.shape[0]!, 0));
    routed = Math.max(routed, ...f.sizes);
    E = f.sizes.length;
  }
  if (shared === 0) return null;
  return `shared experts folded into every routed expert: each grows from ${routed} to ${routed + shared} neurons (${E}× the shared weights stored, k× their compute per token)`;
}

/** Every target with its exactness, computed before anything is written. */
export function checkExportTargets(model: LlamaForCausalLM, tok: Tokenizer | null, opts: { measure?: boolean } = {}): ExportTargetReport[] {
  const out: ExportTargetReport[] = [];
  for (const format of ['llama-moe', 'mixtral', 'qwen2_moe'] as const) {
    const why = formatIncompatibility(model, format, tok);
    out.push({ target: format, format, outtype: null, status: why ? 'impossible' : 'exact', reason: why, measured_rel_logit_diff: null });
  }
  const why = formatIncompatibility(model, 'gguf', tok);
  let base: Float32Array | null = null;
  const V = model.config.vocab_size;
  const ids = Int32Array.from({ length: Math.min(32, model.config.max_position_embeddings) }, (_, i) => (i * 7919 + 1) % V);
  for (const outtype of OUTTYPES) {
    const target = `gguf:${outtype}`;
    if (why) {
      out.push({ target, format: 'gguf', outtype, status: 'impossible', reason: why, measured_rel_logit_diff: null });
      continue;
    }
    if (outtype === 'f32') {
      out.push({ target, format: 'gguf', outtype, status: 'exact', reason: sharedNote(model), measured_rel_logit_diff: null });
      continue;
    }
    let rel: number | null = null;
    if (opts.measure !== false) {
      base ??= noGrad(() => model.logits(ids).f32()).slice();
      const r = roundedLogits(model, outtype, ids);
      let maxAbs = 0, maxDiff = 0;
      for (let i = 0; i < base.length; i++) {
        maxAbs = Math.max(maxAbs, Math.abs(base[i]!));
        maxDiff = Math.max(maxDiff, Math.abs(base[i]! - r[i]!));
      }
      rel = maxDiff / Math.max(maxAbs, 1e-30);
    }
    out.push({ target, format: 'gguf', outtype, status: 'approximate', reason: `weights stored as ${outtype}${rel !== null ? `: max |Δlogit| = ${rel.toExponential(2)} · max |logit| on a ${ids.length}-token probe` : ''}`, measured_rel_logit_diff: rel });
  }
  return out;
}

export function renderTargets(dir: string, rows: readonly ExportTargetReport[]): string {
  const w = Math.max(...rows.map((r) => r.target.length));
  return `${dir}\n` + rows.map((r) => `  ${r.target.padEnd(w)}  ${r.status.padEnd(11)}${r.reason ? `  ${r.reason}` : ''}`).join('\n') + '\n';
}

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.model'];

/**
 * Copy the tokenizer files into an exported Hugging Face folder, adding a SentencePiece
 * tokenizer.model when the tokenizer is SentencePiece-compatible and the source has none (so
 * converters that read it, e.g. llama.cpp's convert_hf_to_gguf.py, tokenise as the project does).
 */
export function copyTokenizerFiles(from: string, to: string, tok: Tokenizer | null): void {
  if (fs.existsSync(from) && fs.statSync(from).isDirectory()) {
    for (const f of TOKENIZER_FILES) if (fs.existsSync(path.join(from, f))) fs.copyFileSync(path.join(from, f), path.join(to, f));
  } else if (tok) {
    saveTokenizerFiles(to, { tokenizerJson: tok.tokenizerJson, tokenizerConfig: tok.tokenizerConfig });
  }
  if (tok && !fs.existsSync(path.join(to, 'special_tokens_map.json'))) {
    const entry = (content: string | null) => (content === null ? undefined : { content, lstrip: false, normalized: false, rstrip: false, single_word: false });
    const unk = tok.unkTokenId === null ? null : (tok.idToToken(tok.unkTokenId) ?? null);
    const map = Object.fromEntries(Object.entries({ bos_token: entry(tok.bosToken), eos_token: entry(tok.eosToken), unk_token: entry(unk) }).filter(([, v]) => v !== undefined));
    atomicWriteFile(path.join(to, 'special_tokens_map.json'), JSON.stringify(map, null, 2) + '\n');
  }
  if (tok && !fs.existsSync(path.join(to, 'tokenizer.model'))) {
    const k = ggufTokenizerKind(tok);
    if ('model' in k && k.model === 'llama') atomicWriteFile(path.join(to, 'tokenizer.model'), sentencePieceModelBytes(tok));
  }
}

/** A dense folder to GGUF, one tensor at a time (a 7B model converts in about one layer's memory). */
function streamDenseGguf(args: CommandArgs, dir: string, cfg: LlamaConfig, out: string, outtype: GgufOutType): number {
  const tok = tokenizerOf(dir);
  let why: string | null = null;
  if (!tok) why = 'the model folder has no tokenizer.json, and llama.cpp needs the vocabulary in the GGUF';
  else {
    const k = ggufTokenizerKind(tok);
    if ('reason' in k) why = `tokenizer: ${k.reason}`;
    else if (tok.vocabSize > cfg.vocab_size) why = `tokenizer has ${tok.vocabSize} tokens, more than vocab_size ${cfg.vocab_size}`;
    else if (cfg.head_dim % 2 !== 0) why = `head_dim ${cfg.head_dim} is odd`;
  }
  if (why) throw new CliError(`--format gguf: cannot export ${dir} exactly: ${why}`, 'run `llama-moe export-check --model DIR` to see which targets work');
  ensureParentDir(out);
  const ck = openCheckpoint(dir);
  try {
    const r = writeCheckpointGguf(ck, cfg, out, { tokenizer: tok!, outtype, name: path.basename(path.resolve(dir)) });
    if (!args.quiet) args.io.stdout(`wrote ${out}: GGUF (llama, ${outtype}), ${r.tensors} tensors, ${r.byteLength} bytes\n`);
  } finally {
    ck.close();
  }
  return 0;
}

/** `export --model DIR --format gguf|mixtral|qwen2_moe|llama-moe --out PATH [--outtype T]`. */
export async function runFormatExport(args: CommandArgs): Promise<number> {
  const o = args.options as { model: string; out: string; format: string; outtype?: string; data?: string };
  const format = o.format as ModelFormat;
  if (!(MODEL_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format ${o.format} is not one of ${[...MODEL_FORMATS, PYTORCH_TRAINING_FORMAT].join(', ')}`, 'see `llama-moe export --help`');
  const outtype = (o.outtype ?? 'f32') as GgufOutType;
  if (!OUTTYPES.includes(outtype)) throw new UsageError(`--outtype ${o.outtype} is not one of ${OUTTYPES.join(', ')}`, 'see `llama-moe export --help`');
  if (o.outtype !== undefined && format !== 'gguf') throw new UsageError(`--outtype applies to --format gguf only`, 'drop --outtype');
  if (o.data !== undefined) throw new UsageError(`--data applies to --format ${PYTORCH_TRAINING_FORMAT} only`, 'drop --data');
  if (format === 'gguf') checkOutputFile(o.out);
  else checkOutputDir(o.out);
  if (format === 'gguf' && !isGgufFile(o.model) && fs.existsSync(path.join(o.model, 'config.json'))) {
    const cfg = readLlamaConfig(o.model);
    if (cfg.model_type === 'llama' || cfg.model_type === 'mistral') return streamDenseGguf(args, o.model, cfg, o.out, outtype);
  }
  const { model } = await loadModelFolder(o.model);
  const tok = tokenizerOf(o.model);
  const why = formatIncompatibility(model, format, tok);
  if (why) throw new CliError(`--format ${format}: cannot export ${o.model} exactly: ${why}`, 'run `llama-moe export-check --model DIR` to see which targets work');
  if (format === 'gguf') {
    ensureParentDir(o.out);
    const r = writeMoeGguf(model, o.out, { tokenizer: tok!, outtype, name: path.basename(path.resolve(o.model)) });
    if (!args.quiet) args.io.stdout(`wrote ${o.out}: GGUF (llama, ${outtype}), ${r.tensors} tensors, ${r.byteLength} bytes\n`);
    return 0;
  }
  if (format === 'qwen2_moe') saveQwen2Moe(model, o.out, { dtype: 'float32', overwrite: true });
  else saveMoeModel(model, o.out, { format, dtype: 'float32', overwrite: true });
  copyTokenizerFiles(o.model, o.out, tok);
  if (!args.quiet) args.io.stdout(`wrote ${o.out}: ${format} Hugging Face folder\n`);
  return 0;
}
