/**
 * A LlamaForCausalLM as a llama.cpp GGUF (`general.architecture` = `llama`), following llama.cpp's
 * constants and convert_hf_to_gguf.py's LlamaModel:
 *
 * - tensor names `token_embd`, `blk.N.attn_{norm,q,k,v,output}`, `blk.N.ffn_{norm,gate,up,down}`,
 *   `output_norm`, `output` (absent when the embeddings are tied: llama.cpp then reuses token_embd);
 * - q_proj / k_proj rows permuted per head from rotate_half order (HF) to interleaved pairs (what
 *   llama.cpp's `llama` RoPE rotates), with n_head for Q and n_head_kv for K;
 * - linear RoPE scaling as `rope.scaling.type` / `rope.scaling.factor`; Llama-3.1 scaling as the
 *   `rope_freqs.weight` tensor of per-frequency divisors (the converter's formula);
 * - norms (1-D) stay F32, the router `ffn_gate_inp` stays F32, matrices take the requested type;
 *   Q8_0 falls back to F16 for a matrix whose rows are not a multiple of 32 (as the converter does);
 * - the tokenizer as `tokenizer.ggml.*` metadata (gguf-vocab.ts).
 *
 * The FFN of each layer is exported by a hook: the dense SwiGLU here; expert-partition supplies the
 * MoE mappings (stacked experts, shared experts).
 */
import { CheckpointError, GgufError } from '../io/errors.js';
import { checkShapesAgainstConfig } from '../io/shape-check.js';
import { gguf, LLAMA_FTYPE, type GgmlTypeName, type GgufValue } from '../io/gguf-format.js';
import { writeGguf, type GgufMetadata, type GgufTensorInput, type GgufWriteResult } from '../io/gguf-writer.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { ggufTokenizerMetadata } from '../tokenizer/gguf-vocab.js';
import { DenseFeedForward, type FeedForward } from './feed-forward.js';
import type { LlamaForCausalLM } from './llama.js';
import type { LlamaConfig } from '../io/config.js';
import type { ReadableCheckpoint } from '../io/memory-checkpoint.js';

export type GgufOutType = 'f32' | 'f16' | 'bf16' | 'q8_0';
export const GGUF_OUTTYPES: readonly GgufOutType[] = ['f32', 'f16', 'bf16', 'q8_0'];
const OUTTYPE_GGML: Record<GgufOutType, GgmlTypeName> = { f32: 'F32', f16: 'F16', bf16: 'BF16', q8_0: 'Q8_0' };

/** A tensor of an export before its storage type is chosen. */
export interface GgufExportTensor {
  name: string;
  shape: readonly number[];
  data: Float32Array | (() => Float32Array);
  /** 'matrix': takes the out type; 'f32': always F32 (norms, router, rope_freqs). */
  kind: 'matrix' | 'f32';
}

/** What an FFN exporter returns for one layer. */
export interface GgufFfnExport {
  tensors: GgufExportTensor[];
}

/** Architecture-level description an FFN family adds (MoE hyper-parameters). */
export interface GgufArchExtras {
  /** `general.architecture` (default `llama`). */
  arch?: string;
  /** Extra `<arch>.*` keys (without the prefix), e.g. `expert_count`. */
  keys?: ReadonlyArray<readonly [string, GgufValue]>;
  /** `<arch>.feed_forward_length` (default intermediate_size). */
  feedForwardLength?: number;
}

export interface LlamaGgufOptions {
  outtype?: GgufOutType;
  /** Written as `tokenizer.ggml.*`; llama.cpp needs one to load the file. */
  tokenizer: Tokenizer;
  /** `general.name`. */
  name?: string;
  /** Export of a layer's FFN; default: the dense SwiGLU (`ffn_gate`, `ffn_up`, `ffn_down`). */
  ffn?: (layer: number, mlp: FeedForward) => GgufFfnExport;
  extras?: GgufArchExtras;
  /** File name used in error messages while planning. */
  file?: string;
  /**
   * Permute Q/K rows for llama.cpp's interleaved (GPT-J style) RoPE: true for `llama`; false for
   * architectures llama.cpp runs with NEOX (rotate_half) RoPE, e.g. `qwen2moe`.
   */
  permuteQk?: boolean;
  /** Write all-zero q/k/v biases when the model has none (architectures that require them, e.g. `qwen2moe`). */
  zeroQkvBias?: boolean;
}

/**
 * convert_hf_to_gguf.py's LlamaModel.permute: per head, rows [first half | second half] (rotate_half)
 * become interleaved pairs (row 2i = old i, row 2i+1 = old i + hd/2). Works on [heads·hd, cols] and
 * on a [heads·hd] bias (cols = 1).
 */
export function permuteQkRows(w: Float32Array, heads: number, cols: number): Float32Array {
  const rows = w.length / cols;
  const hd = rows / heads;
  if (!Number.isInteger(hd) || hd % 2 !== 0) throw new RangeError(`permuteQkRows: ${rows} rows do not split into ${heads} heads of even size`);
  const half = hd / 2;
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let s = 0; s < 2; s++) {
        const src = (h * hd + s * half + i) * cols;
        const dst = (h * hd + 2 * i + s) * cols;
        out.set(w.subarray(src, src + cols), dst);
      }
    }
  }
  return out;
}

/** The dense SwiGLU FFN as llama.cpp names it. */
export function denseFfnGguf(layer: number, mlp: FeedForward): GgufFfnExport {
  if (!(mlp instanceof DenseFeedForward)) {
    throw new GgufError('<export>', `blk.${layer}.ffn`, `layer ${layer}'s FFN (${mlp.constructor.name}) is not a dense SwiGLU; export MoE models through expert-partition's GGUF exporter`);
  }
  const p = `blk.${layer}`;
  const out: GgufExportTensor[] = [
    { name: `${p}.ffn_gate.weight`, shape: mlp.gate.shape, data: mlp.gate.f32(), kind: 'matrix' },
    { name: `${p}.ffn_up.weight`, shape: mlp.up.shape, data: mlp.up.f32(), kind: 'matrix' },
    { name: `${p}.ffn_down.weight`, shape: mlp.down.shape, data: mlp.down.f32(), kind: 'matrix' },
  ];
  if (mlp.biases) {
    out.push(
      { name: `${p}.ffn_gate.bias`, shape: mlp.biases.gate.shape, data: mlp.biases.gate.f32(), kind: 'f32' },
      { name: `${p}.ffn_up.bias`, shape: mlp.biases.up.shape, data: mlp.biases.up.f32(), kind: 'f32' },
      { name: `${p}.ffn_down.bias`, shape: mlp.biases.down.shape, data: mlp.biases.down.f32(), kind: 'f32' },
    );
  }
  return { tensors: out };
}

/** Llama-3.1 RoPE as llama.cpp's per-frequency divisors (convert_hf_to_gguf.py LlamaModel.generate_extra_tensors). */
export function llama3RopeFreqFactors(headDim: number, theta: number, s: { factor: number; low_freq_factor: number; high_freq_factor: number; original_max_position_embeddings: number }): Float32Array {
  const out = new Float32Array(headDim / 2);
  const lowWavelen = s.original_max_position_embeddings / s.low_freq_factor;
  const highWavelen = s.original_max_position_embeddings / s.high_freq_factor;
  for (let i = 0; i < headDim / 2; i++) {
    const freq = 1 / theta ** ((2 * i) / headDim);
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = s.factor;
    else {
      const smooth = (s.original_max_position_embeddings / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      out[i] = 1 / ((1 - smooth) / s.factor + smooth);
    }
  }
  return out;
}

/** One tensor of a source, read only when the GGUF writer reaches it. */
interface SourceParam {
  shape: readonly number[];
  data: () => Float32Array;
}

/** Where the export reads the model from: an in-memory model or a checkpoint on disk (one tensor at a time). */
interface LlamaGgufSource {
  config: LlamaConfig;
  /** A parameter by its Hugging Face name, or null when absent. */
  param(hfName: string): SourceParam | null;
  /** The layer's FFN module (in-memory models only; FFN hooks need it). */
  mlp(layer: number): FeedForward | null;
}

function modelSource(model: LlamaForCausalLM): LlamaGgufSource {
  const byName = new Map(model.namedParameters());
  if (model.config.tie_word_embeddings) byName.set('lm_head.weight', model.weights.lmHead);
  return {
    config: model.config,
    param: (n) => {
      const t = byName.get(n);
      return t ? { shape: t.shape, data: () => t.f32() } : null;
    },
    mlp: (l) => model.weights.layers[l]!.mlp,
  };
}

/** Metadata and tensors of the GGUF for `model` (nothing written). */
export function llamaGgufParts(model: LlamaForCausalLM, opts: LlamaGgufOptions): { metadata: GgufMetadata; tensors: GgufTensorInput[] } {
  return ggufPartsFrom(modelSource(model), opts);
}

/**
 * Metadata and tensors of the GGUF for a dense checkpoint (a Hugging Face folder already opened),
 * read lazily: the writer holds one tensor at a time, so a 7B model converts in about one layer's
 * memory. Same bytes as `llamaGgufParts(loadLlama(dir))`.
 */
export function checkpointGgufParts(ckpt: ReadableCheckpoint, config: LlamaConfig, opts: Omit<LlamaGgufOptions, 'ffn'>): { metadata: GgufMetadata; tensors: GgufTensorInput[] } {
  if (config.model_type !== 'llama' && config.model_type !== 'mistral') throw new GgufError(opts.file ?? '<export>', null, `checkpointGgufParts reads dense llama / mistral checkpoints; ${config.model_type} needs the MoE exporter`);
  const r = checkShapesAgainstConfig(ckpt, config) as unknown as { ok?: boolean; problems?: { tensor: string; detail: string }[] } | undefined;
  if (r && r.ok === false && r.problems?.length) {
    const p = r.problems[0]!;
    throw new CheckpointError(ckpt.dir, p.tensor, `${p.detail}${r.problems.length > 1 ? ` (and ${r.problems.length - 1} more problems)` : ''}`);
  }
  return ggufPartsFrom(
    {
      config,
      param: (n) => {
        if (!ckpt.has(n)) return null;
        const info = ckpt.info(n);
        return { shape: info.shape, data: () => ckpt.readF32(n) };
      },
      mlp: () => null,
    },
    opts,
  );
}

function ggufPartsFrom(src: LlamaGgufSource, opts: LlamaGgufOptions): { metadata: GgufMetadata; tensors: GgufTensorInput[] } {
  const cfg = src.config;
  const file = opts.file ?? '<export>';
  const outtype = opts.outtype ?? 'f32';
  if (!GGUF_OUTTYPES.includes(outtype)) throw new GgufError(file, null, `unknown outtype '${String(outtype)}' (expected one of ${GGUF_OUTTYPES.join(', ')})`);
  const mat = OUTTYPE_GGML[outtype];
  const arch = opts.extras?.arch ?? 'llama';
  const Hq = cfg.num_attention_heads, Hkv = cfg.num_key_value_heads, hd = cfg.head_dim, D = cfg.hidden_size;
  if (hd % 2 !== 0) throw new GgufError(file, null, `head_dim ${hd} is odd; RoPE needs an even head_dim`);

  const list: GgufExportTensor[] = [];
  const perm = opts.permuteQk ?? true;
  const pq = (d: Float32Array, heads: number, cols: number): Float32Array => (perm ? permuteQkRows(d, heads, cols) : d);
  const need = (n: string): SourceParam => {
    const p = src.param(n);
    if (!p) throw new GgufError(file, null, `the model has no '${n}'`);
    return p;
  };
  const put = (name: string, hf: string, kind: 'matrix' | 'f32', fix?: (d: Float32Array) => Float32Array): void => {
    const p = need(hf);
    list.push({ name, shape: p.shape, data: fix ? () => fix(p.data()) : p.data, kind });
  };
  put('token_embd.weight', 'model.embed_tokens.weight', 'matrix');
  if (cfg.rope_scaling?.rope_type === 'llama3') {
    list.push({ name: 'rope_freqs.weight', shape: [hd / 2], data: llama3RopeFreqFactors(hd, cfg.rope_theta, cfg.rope_scaling), kind: 'f32' });
  }
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const p = `blk.${i}`;
    const h = `model.layers.${i}`;
    put(`${p}.attn_norm.weight`, `${h}.input_layernorm.weight`, 'f32');
    put(`${p}.attn_q.weight`, `${h}.self_attn.q_proj.weight`, 'matrix', (d) => pq(d, Hq, D));
    put(`${p}.attn_k.weight`, `${h}.self_attn.k_proj.weight`, 'matrix', (d) => pq(d, Hkv, D));
    put(`${p}.attn_v.weight`, `${h}.self_attn.v_proj.weight`, 'matrix');
    put(`${p}.attn_output.weight`, `${h}.self_attn.o_proj.weight`, 'matrix');
    if (cfg.attention_bias) {
      put(`${p}.attn_q.bias`, `${h}.self_attn.q_proj.bias`, 'f32', (d) => pq(d, Hq, 1));
      put(`${p}.attn_k.bias`, `${h}.self_attn.k_proj.bias`, 'f32', (d) => pq(d, Hkv, 1));
      put(`${p}.attn_v.bias`, `${h}.self_attn.v_proj.bias`, 'f32');
      put(`${p}.attn_output.bias`, `${h}.self_attn.o_proj.bias`, 'f32');
    } else if (opts.zeroQkvBias) {
      list.push({ name: `${p}.attn_q.bias`, shape: [Hq * hd], data: new Float32Array(Hq * hd), kind: 'f32' });
      list.push({ name: `${p}.attn_k.bias`, shape: [Hkv * hd], data: new Float32Array(Hkv * hd), kind: 'f32' });
      list.push({ name: `${p}.attn_v.bias`, shape: [Hkv * hd], data: new Float32Array(Hkv * hd), kind: 'f32' });
    }
    put(`${p}.ffn_norm.weight`, `${h}.post_attention_layernorm.weight`, 'f32');
    const mlp = src.mlp(i);
    if (opts.ffn) {
      if (!mlp) throw new GgufError(file, null, 'an FFN exporter needs the model in memory');
      list.push(...opts.ffn(i, mlp).tensors);
    } else if (mlp && !(mlp instanceof DenseFeedForward)) {
      list.push(...denseFfnGguf(i, mlp).tensors); // throws the typed refusal
    } else {
      put(`${p}.ffn_gate.weight`, `${h}.mlp.gate_proj.weight`, 'matrix');
      put(`${p}.ffn_up.weight`, `${h}.mlp.up_proj.weight`, 'matrix');
      put(`${p}.ffn_down.weight`, `${h}.mlp.down_proj.weight`, 'matrix');
      if (cfg.mlp_bias) {
        put(`${p}.ffn_gate.bias`, `${h}.mlp.gate_proj.bias`, 'f32');
        put(`${p}.ffn_up.bias`, `${h}.mlp.up_proj.bias`, 'f32');
        put(`${p}.ffn_down.bias`, `${h}.mlp.down_proj.bias`, 'f32');
      }
    }
  }
  put('output_norm.weight', 'model.norm.weight', 'f32');
  if (!cfg.tie_word_embeddings) put('output.weight', 'lm_head.weight', 'matrix');

  const tensors: GgufTensorInput[] = list.map((t) => {
    let type: GgmlTypeName = t.kind === 'f32' || t.shape.length < 2 ? 'F32' : mat;
    if (type === 'Q8_0' && t.shape[t.shape.length - 1]! % 32 !== 0) type = 'F16';
    return { name: t.name, type, shape: t.shape, data: t.data };
  });

  const k = (key: string): string => `${arch}.${key}`;
  const md: [string, GgufValue][] = [
    ['general.architecture', gguf.str(arch)],
    ['general.name', gguf.str(opts.name ?? 'llama-moe export')],
    ['general.file_type', gguf.u32(LLAMA_FTYPE[mat])],
    ['general.quantization_version', gguf.u32(2)],
    [k('block_count'), gguf.u32(cfg.num_hidden_layers)],
    [k('context_length'), gguf.u32(cfg.max_position_embeddings)],
    [k('embedding_length'), gguf.u32(D)],
    [k('feed_forward_length'), gguf.u32(opts.extras?.feedForwardLength ?? cfg.intermediate_size)],
    [k('attention.head_count'), gguf.u32(Hq)],
    [k('attention.head_count_kv'), gguf.u32(Hkv)],
    [k('rope.freq_base'), gguf.f32(cfg.rope_theta)],
    [k('attention.layer_norm_rms_epsilon'), gguf.f32(cfg.rms_norm_eps)],
    [k('rope.dimension_count'), gguf.u32(hd)],
  ];
  if (hd !== D / Hq) md.push([k('attention.key_length'), gguf.u32(hd)], [k('attention.value_length'), gguf.u32(hd)]);
  if (cfg.rope_scaling?.rope_type === 'linear') {
    md.push([k('rope.scaling.type'), gguf.str('linear')], [k('rope.scaling.factor'), gguf.f32(cfg.rope_scaling.factor)]);
  }
  for (const [key, v] of opts.extras?.keys ?? []) md.push([k(key), v]);
  md.push([k('vocab_size'), gguf.u32(cfg.vocab_size)]);
  md.push(...ggufTokenizerMetadata(opts.tokenizer, cfg.vocab_size, file));
  return { metadata: md, tensors };
}

/** Write a dense checkpoint folder as a llama.cpp GGUF, streaming one tensor at a time. */
export function writeCheckpointGguf(ckpt: ReadableCheckpoint, config: LlamaConfig, path: string, opts: Omit<LlamaGgufOptions, 'ffn'>): GgufWriteResult {
  const { metadata, tensors } = checkpointGgufParts(ckpt, config, { ...opts, file: opts.file ?? path });
  return writeGguf(path, metadata, tensors);
}

/** Write `model` as a llama.cpp GGUF at `path` (atomically). */
export function writeLlamaGguf(model: LlamaForCausalLM, path: string, opts: LlamaGgufOptions): GgufWriteResult {
  const { metadata, tensors } = llamaGgufParts(model, { ...opts, file: opts.file ?? path });
  return writeGguf(path, metadata, tensors);
}
