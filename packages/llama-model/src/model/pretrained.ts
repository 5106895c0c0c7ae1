/**
 * Loading and saving model folders in Hugging Face layout: config.json, generation_config.json,
 * model.safetensors or sharded model-0000k-of-0000n.safetensors + index. Loading reads one tensor
 * at a time (lazy safetensors), checks every shape against the config first, and names the file
 * and tensor on any mismatch. Saving stages the whole folder and renames it into place, so a
 * crash leaves either the complete model or nothing.
 *
 * This module is browser-safe (loading from any ReadableCheckpoint, e.g. a MemoryCheckpoint); the
 * folder functions (loadLlama, saveLlama, saveModelFolder) are pretrained-files.ts (./node).
 */
import { Tensor, f32ToBf16, f32ToF16 } from '@llama-moe/tensor-core';
import type { ReadableCheckpoint } from '../io/memory-checkpoint.js';
import type { LlamaConfig } from '../io/config.js';
import { CheckpointError } from '../io/errors.js';
import { checkShapesAgainstConfig } from '../io/shape-check.js';
import type { SafetensorsTensorInput } from '../io/safetensors-writer.js';
import { DenseFeedForward, type FeedForward } from './feed-forward.js';
import { LlamaForCausalLM, type DecoderLayer } from './llama.js';

export type SaveDType = 'float32' | 'bfloat16' | 'float16';

export interface LoadOptions {
  /** Builds a layer's FFN from the checkpoint (MoE formats); the dense SwiGLU loader by default. */
  ffnLoader?: (layer: number, ckpt: ReadableCheckpoint, config: LlamaConfig) => FeedForward;
  /** Skip checkShapesAgainstConfig (MoE loaders check their own tensors). */
  skipShapeCheck?: boolean;
}

export function readParam(ckpt: ReadableCheckpoint, name: string, shape?: readonly number[]): Tensor {
  if (!ckpt.has(name)) throw new CheckpointError(ckpt.dir, name, 'is missing from the checkpoint');
  const info = ckpt.info(name);
  if (shape && (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i]))) {
    throw new CheckpointError(ckpt.dir, name, `has shape [${info.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
  const t = new Tensor(ckpt.readF32(name), info.shape);
  t.name = name;
  return t;
}

function denseFfn(layer: number, ckpt: ReadableCheckpoint, cfg: LlamaConfig): FeedForward {
  const p = `model.layers.${layer}.mlp`;
  const D = cfg.hidden_size, F = cfg.intermediate_size;
  return new DenseFeedForward(
    readParam(ckpt, `${p}.gate_proj.weight`, [F, D]),
    readParam(ckpt, `${p}.up_proj.weight`, [F, D]),
    readParam(ckpt, `${p}.down_proj.weight`, [D, F]),
    cfg.mlp_bias ? { gate: readParam(ckpt, `${p}.gate_proj.bias`, [F]), up: readParam(ckpt, `${p}.up_proj.bias`, [F]), down: readParam(ckpt, `${p}.down_proj.bias`, [D]) } : null,
  );
}

/** Build a model from an open checkpoint and a parsed config. */
export function loadLlamaFrom(ckpt: ReadableCheckpoint, cfg: LlamaConfig, opts: LoadOptions = {}): LlamaForCausalLM {
  if (!opts.skipShapeCheck && !opts.ffnLoader) {
    const r = checkShapesAgainstConfig(ckpt, cfg) as unknown as { ok?: boolean; problems?: { tensor: string; detail: string }[] } | undefined;
    if (r && r.ok === false && r.problems?.length) {
      const p = r.problems[0]!;
      throw new CheckpointError(ckpt.dir, p.tensor, `${p.detail}${r.problems.length > 1 ? ` (and ${r.problems.length - 1} more problems)` : ''}`);
    }
  }
  const D = cfg.hidden_size, hd = cfg.head_dim, Hq = cfg.num_attention_heads, Hkv = cfg.num_key_value_heads, V = cfg.vocab_size;
  const ffn = opts.ffnLoader ?? denseFfn;
  const embed = readParam(ckpt, 'model.embed_tokens.weight', [V, D]);
  const layers: DecoderLayer[] = [];
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    const a = `${p}.self_attn`;
    layers.push({
      inputNorm: readParam(ckpt, `${p}.input_layernorm.weight`, [D]),
      postNorm: readParam(ckpt, `${p}.post_attention_layernorm.weight`, [D]),
      attn: {
        q: readParam(ckpt, `${a}.q_proj.weight`, [Hq * hd, D]),
        k: readParam(ckpt, `${a}.k_proj.weight`, [Hkv * hd, D]),
        v: readParam(ckpt, `${a}.v_proj.weight`, [Hkv * hd, D]),
        o: readParam(ckpt, `${a}.o_proj.weight`, [D, Hq * hd]),
        bias: cfg.attention_bias
          ? { q: readParam(ckpt, `${a}.q_proj.bias`, [Hq * hd]), k: readParam(ckpt, `${a}.k_proj.bias`, [Hkv * hd]), v: readParam(ckpt, `${a}.v_proj.bias`, [Hkv * hd]), o: readParam(ckpt, `${a}.o_proj.bias`, [D]) }
          : null,
      },
      mlp: ffn(l, ckpt, cfg),
    });
  }
  const norm = readParam(ckpt, 'model.norm.weight', [D]);
  const lmHead = cfg.tie_word_embeddings ? embed : readParam(ckpt, 'lm_head.weight', [V, D]);
  return new LlamaForCausalLM(cfg, { embed, layers, norm, lmHead });
}

export interface SaveOptions {
  /** Storage dtype (default float32); also written as the config's torch_dtype. */
  dtype?: SaveDType;
  /** Shard size in bytes (default 5 GB, as transformers). */
  maxShardBytes?: number;
  /** Replace an existing folder's model files (default: refuse a non-empty folder that is not a model). */
  overwrite?: boolean;
  /** Extra files to write into the folder: name → JSON object or string. */
  extraFiles?: Record<string, unknown>;
  /** The config.json object to write (defaults to the model's config). */
  configJson?: Record<string, unknown>;
  /** Tensors to write instead of the model's own parameters (format converters). */
  tensors?: Iterable<[string, Tensor | (() => Tensor)]>;
}

const STORAGE: Record<SaveDType, 'F32' | 'BF16' | 'F16'> = { float32: 'F32', bfloat16: 'BF16', float16: 'F16' };

export function toSafetensorsInput(name: string, t: Tensor | (() => Tensor), dtype: SaveDType): SafetensorsTensorInput {
  const st = STORAGE[dtype];
  const get = () => (typeof t === 'function' ? t() : t);
  const shape = typeof t === 'function' ? null : t.shape;
  return {
    name,
    dtype: st,
    get shape() { return shape ?? get().shape; },
    data: () => {
      const d = get().f32(`save '${name}'`);
      return st === 'F32' ? d : st === 'BF16' ? f32ToBf16(d) : f32ToF16(d);
    },
  } as SafetensorsTensorInput;
}

export function generationConfigJson(cfg: LlamaConfig): Record<string, unknown> {
  return { _from_model_config: true, bos_token_id: cfg.bos_token_id, eos_token_id: cfg.eos_token_id, transformers_version: '4.46.0' };
}
