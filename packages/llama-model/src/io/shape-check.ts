/**
 * Check a checkpoint's tensor names, shapes and dtypes against a config before loading anything:
 * every tensor the Hugging Face model expects must exist with the exact shape, and nothing unknown
 * may be present (a misnamed tensor would otherwise be silently dropped and the model would run
 * with random weights).
 */
import { CheckpointError, ConfigError } from './errors.js';
import type { LlamaConfig } from './config.js';

/** What the check needs from a checkpoint (Checkpoint and SafetensorsFile both fit). */
export interface ShapeSource {
  keys(): string[];
  info(name: string): { dtype: string; shape: readonly number[] };
  /** Used in error messages when present. */
  readonly dir?: string;
  readonly path?: string;
}

export interface ShapeCheckResult {
  /** Number of expected tensors verified. */
  checked: number;
  /** Present tensors that are allowed and not used (rotary_emb.inv_freq buffers, lm_head.weight of a tied model). */
  ignored: string[];
}

/** Old transformers versions saved the RoPE buffer; it is recomputed from the config, so it is ignored. */
const IGNORED = /^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/;
const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

/** Every tensor the transformers model for `cfg` loads, with its shape (HF names verbatim). */
export function expectedTensorShapes(cfg: LlamaConfig): Map<string, number[]> {
  const D = cfg.hidden_size;
  const V = cfg.vocab_size;
  const F = cfg.intermediate_size;
  const hd = cfg.head_dim;
  const q = cfg.num_attention_heads * hd;
  const kv = cfg.num_key_value_heads * hd;
  const m = new Map<string, number[]>();
  m.set('model.embed_tokens.weight', [V, D]);
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const p = `model.layers.${i}`;
    const attn: [string, number[]][] = [
      ['q_proj', [q, D]],
      ['k_proj', [kv, D]],
      ['v_proj', [kv, D]],
      ['o_proj', [D, q]],
    ];
    for (const [n, s] of attn) {
      m.set(`${p}.self_attn.${n}.weight`, s);
      if (cfg.attention_bias) m.set(`${p}.self_attn.${n}.bias`, [s[0]!]);
    }
    if (cfg.model_type === 'mixtral') {
      const E = cfg.num_local_experts!;
      m.set(`${p}.block_sparse_moe.gate.weight`, [E, D]);
      for (let e = 0; e < E; e++) {
        m.set(`${p}.block_sparse_moe.experts.${e}.w1.weight`, [F, D]);
        m.set(`${p}.block_sparse_moe.experts.${e}.w2.weight`, [D, F]);
        m.set(`${p}.block_sparse_moe.experts.${e}.w3.weight`, [F, D]);
      }
    } else {
      const mlp: [string, number[]][] = [
        ['gate_proj', [F, D]],
        ['up_proj', [F, D]],
        ['down_proj', [D, F]],
      ];
      for (const [n, s] of mlp) {
        m.set(`${p}.mlp.${n}.weight`, s);
        if (cfg.mlp_bias) m.set(`${p}.mlp.${n}.bias`, [s[0]!]);
      }
    }
    m.set(`${p}.input_layernorm.weight`, [D]);
    m.set(`${p}.post_attention_layernorm.weight`, [D]);
  }
  m.set('model.norm.weight', [D]);
  if (!cfg.tie_word_embeddings) m.set('lm_head.weight', [V, D]);
  return m;
}

const fmt = (s: readonly number[]): string => `[${s.join(', ')}]`;

/**
 * Throws CheckpointError naming the first offending tensor (expected vs actual shape, missing, or
 * unexpected) and how many other problems there are. llama_moe checkpoints have their own expert
 * layout and are checked by the MoE conversion code, not here.
 */
export function checkShapesAgainstConfig(ckpt: ShapeSource, cfg: LlamaConfig): ShapeCheckResult {
  const where = ckpt.dir ?? ckpt.path ?? 'checkpoint';
  if (cfg.model_type === 'llama_moe') {
    throw new ConfigError(where, 'model_type', "checkShapesAgainstConfig covers llama, mistral and mixtral layouts; 'llama_moe' expert tensors are checked by the MoE conversion");
  }
  const expected = expectedTensorShapes(cfg);
  const present = new Set(ckpt.keys());
  const problems: { tensor: string; detail: string }[] = [];
  for (const [name, shape] of expected) {
    if (!present.has(name)) {
      problems.push({ tensor: name, detail: `is missing (expected shape ${fmt(shape)})` });
      continue;
    }
    const info = ckpt.info(name);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      problems.push({ tensor: name, detail: `has shape ${fmt(info.shape)} but the config needs ${fmt(shape)}` });
    } else if (!FLOAT_DTYPES.has(info.dtype)) {
      problems.push({ tensor: name, detail: `has dtype ${info.dtype}; weights must be F32, F16, BF16 or F64` });
    }
  }
  const ignored: string[] = [];
  for (const name of present) {
    if (expected.has(name)) continue;
    if (IGNORED.test(name)) {
      ignored.push(name);
    } else if (name === 'lm_head.weight' && cfg.tie_word_embeddings) {
      // Some tools save the tied head anyway; transformers ignores it. It must still have the right shape.
      const s = ckpt.info(name).shape;
      if (s.length !== 2 || s[0] !== cfg.vocab_size || s[1] !== cfg.hidden_size) {
        problems.push({ tensor: name, detail: `has shape ${fmt(s)} but the config needs ${fmt([cfg.vocab_size, cfg.hidden_size])} (tied to model.embed_tokens.weight)` });
      } else {
        ignored.push(name);
      }
    } else {
      problems.push({ tensor: name, detail: `is not part of a ${cfg.model_type} model with this config (unexpected tensor; wrong num_hidden_layers, bias flags, or a different architecture?)` });
    }
  }
  if (problems.length > 0) {
    const first = problems[0]!;
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''}, e.g. '${problems[1]!.tensor}' ${problems[1]!.detail})` : '';
    throw new CheckpointError(where, first.tensor, `${first.detail}${more}`);
  }
  return { checked: expected.size, ignored };
}
