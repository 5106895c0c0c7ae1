/**
 * A dense llama.cpp `llama` GGUF as a LlamaForCausalLM: the inverse of gguf-export.ts. Hyper-
 * parameters come from the `llama.*` keys and the tensor shapes, Q/K rows are un-permuted back to
 * rotate_half order, every tensor is dequantized to f32 (F16 / BF16 exact, Q8_0 as d·q). A file
 * this cannot represent exactly (an MoE, another architecture, Llama-3.1 `rope_freqs`, a RoPE
 * scaling type other than linear) is refused with a GgufError naming the file and key or tensor.
 */
import { Tensor } from '@llama-moe/tensor-core';
import { parseLlamaConfig, type LlamaConfig } from '../io/config.js';
import { GgufError } from '../io/errors.js';
import { GgufFile } from '../io/gguf-reader.js';
import { DenseFeedForward } from './feed-forward.js';
import { LlamaForCausalLM, type DecoderLayer } from './llama.js';

/** Inverse of permuteQkRows: interleaved pairs back to [first half | second half] per head. */
export function unpermuteQkRows(w: Float32Array, heads: number, cols: number): Float32Array {
  const rows = w.length / cols;
  const hd = rows / heads;
  const half = hd / 2;
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let s = 0; s < 2; s++) {
        const dst = (h * hd + s * half + i) * cols;
        const src = (h * hd + 2 * i + s) * cols;
        out.set(w.subarray(src, src + cols), dst);
      }
    }
  }
  return out;
}

function num(g: GgufFile, key: string, fallback?: number): number {
  const v = g.get(key);
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new GgufError(g.path, null, `metadata '${key}' is missing`);
  }
  if (v.type === 'ARRAY' || v.type === 'STRING' || v.type === 'BOOL') throw new GgufError(g.path, null, `metadata '${key}' must be a number, got ${v.type}`);
  return v.type === 'FLOAT32' ? shortestF32(Number(v.value)) : Number(v.value);
}

/**
 * The shortest decimal that rounds to the same float32: GGUF stores rms_norm_eps and rope_theta as
 * float32, so 1e-5 comes back as 9.99999974e-6, and a model read from its GGUF would normalise with
 * a different epsilon than the config.json it was written from (logits 1 ulp apart on some tokens).
 */
export function shortestF32(x: number): number {
  if (!Number.isFinite(x)) return x;
  for (let p = 1; p <= 9; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === x) return y;
  }
  return x;
}

/** The Hugging Face config.json equivalent of a dense `llama` GGUF. */
export function ggufLlamaConfig(g: GgufFile): LlamaConfig {
  const archV = g.get('general.architecture');
  const arch = archV?.type === 'STRING' ? archV.value : null;
  if (arch !== 'llama') throw new GgufError(g.path, null, `metadata 'general.architecture' is ${JSON.stringify(arch)}; only dense 'llama' GGUF files can be read as a model`);
  if (num(g, 'llama.expert_count', 0) > 0) throw new GgufError(g.path, null, `metadata 'llama.expert_count' is ${num(g, 'llama.expert_count')}: an MoE GGUF cannot be read as a dense model`);
  if (g.has('rope_freqs.weight')) throw new GgufError(g.path, 'rope_freqs.weight', 'Llama-3.1 RoPE frequency factors cannot be turned back into rope_scaling exactly; refused');
  const emb = g.info('token_embd.weight');
  const [V, D] = emb.shape as [number, number];
  const Hq = num(g, 'llama.attention.head_count');
  const Hkv = num(g, 'llama.attention.head_count_kv', Hq);
  const hd = num(g, 'llama.attention.key_length', D / Hq);
  const st = g.get('llama.rope.scaling.type');
  let rope_scaling: unknown = null;
  if (st !== undefined) {
    const type = st.type === 'STRING' ? st.value : '';
    if (type === 'linear') rope_scaling = { rope_type: 'linear', factor: num(g, 'llama.rope.scaling.factor') };
    else if (type !== 'none') throw new GgufError(g.path, null, `metadata 'llama.rope.scaling.type' ${JSON.stringify(type)} is not supported (linear or none)`);
  }
  const id = (k: string): number | null => (g.get(k) === undefined ? null : num(g, k));
  return parseLlamaConfig(
    {
      model_type: 'llama',
      architectures: ['LlamaForCausalLM'],
      vocab_size: V,
      hidden_size: D,
      intermediate_size: num(g, 'llama.feed_forward_length'),
      num_hidden_layers: num(g, 'llama.block_count'),
      num_attention_heads: Hq,
      num_key_value_heads: Hkv,
      head_dim: hd,
      hidden_act: 'silu',
      max_position_embeddings: num(g, 'llama.context_length'),
      rms_norm_eps: num(g, 'llama.attention.layer_norm_rms_epsilon'),
      rope_theta: num(g, 'llama.rope.freq_base', 10000),
      rope_scaling,
      tie_word_embeddings: !g.has('output.weight'),
      attention_bias: g.has('blk.0.attn_q.bias'),
      mlp_bias: g.has('blk.0.ffn_gate.bias'),
      bos_token_id: id('tokenizer.ggml.bos_token_id'),
      eos_token_id: id('tokenizer.ggml.eos_token_id'),
      pad_token_id: id('tokenizer.ggml.padding_token_id'),
      torch_dtype: 'float32',
    },
    `${g.path} (GGUF metadata)`,
  );
}

/** Read a dense `llama` GGUF file as a model (every tensor dequantized to f32). */
export function loadLlamaGguf(path: string): LlamaForCausalLM {
  const g = GgufFile.open(path);
  try {
    const cfg = ggufLlamaConfig(g);
    const D = cfg.hidden_size, F = cfg.intermediate_size, hd = cfg.head_dim, Hq = cfg.num_attention_heads, Hkv = cfg.num_key_value_heads, V = cfg.vocab_size;
    const read = (name: string, shape: number[], fix?: (d: Float32Array) => Float32Array): Tensor => {
      const info = g.info(name);
      if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
        throw new GgufError(g.path, name, `has shape [${info.shape.join(', ')}], the metadata implies [${shape.join(', ')}]`);
      }
      const d = g.readF32(name);
      const t = new Tensor(fix ? fix(d) : d.slice(), shape);
      return t;
    };
    const embed = read('token_embd.weight', [V, D]);
    const layers: DecoderLayer[] = [];
    for (let i = 0; i < cfg.num_hidden_layers; i++) {
      const p = `blk.${i}`;
      const bias = cfg.attention_bias
        ? {
            q: read(`${p}.attn_q.bias`, [Hq * hd], (d) => unpermuteQkRows(d, Hq, 1)),
            k: read(`${p}.attn_k.bias`, [Hkv * hd], (d) => unpermuteQkRows(d, Hkv, 1)),
            v: read(`${p}.attn_v.bias`, [Hkv * hd]),
            o: read(`${p}.attn_output.bias`, [D]),
          }
        : null;
      layers.push({
        inputNorm: read(`${p}.attn_norm.weight`, [D]),
        postNorm: read(`${p}.ffn_norm.weight`, [D]),
        attn: {
          q: read(`${p}.attn_q.weight`, [Hq * hd, D], (d) => unpermuteQkRows(d, Hq, D)),
          k: read(`${p}.attn_k.weight`, [Hkv * hd, D], (d) => unpermuteQkRows(d, Hkv, D)),
          v: read(`${p}.attn_v.weight`, [Hkv * hd, D]),
          o: read(`${p}.attn_output.weight`, [D, Hq * hd]),
          bias,
        },
        mlp: new DenseFeedForward(
          read(`${p}.ffn_gate.weight`, [F, D]),
          read(`${p}.ffn_up.weight`, [F, D]),
          read(`${p}.ffn_down.weight`, [D, F]),
          cfg.mlp_bias ? { gate: read(`${p}.ffn_gate.bias`, [F]), up: read(`${p}.ffn_up.bias`, [F]), down: read(`${p}.ffn_down.bias`, [D]) } : null,
        ),
      });
    }
    const norm = read('output_norm.weight', [D]);
    const lmHead = cfg.tie_word_embeddings ? embed : read('output.weight', [V, D]);
    const m = new LlamaForCausalLM(cfg, { embed, layers, norm, lmHead });
    m.nameParameters();
    return m;
  } finally {
    g.close();
  }
}
