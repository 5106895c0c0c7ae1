/**
 * Model shapes used by `llama-moe init`, the tests and the benchmarks. stories15M / stories110M
 * are Karpathy's TinyStories llama2.c shapes; llama2-7b is meta-llama/Llama-2-7b-hf's config.
 * Weights are random (the project downloads nothing); the tokenizer is generated.
 */
import { parseLlamaConfig, type LlamaConfig } from '../io/config.js';

export type PresetName = 'tiny' | 'stories15M' | 'stories110M' | 'llama2-7b';

const BASE = {
  model_type: 'llama',
  architectures: ['LlamaForCausalLM'],
  hidden_act: 'silu',
  initializer_range: 0.02,
  bos_token_id: 1,
  eos_token_id: 2,
  pad_token_id: null,
  tie_word_embeddings: false,
  attention_bias: false,
  mlp_bias: false,
  rope_theta: 10000.0,
  rope_scaling: null,
  torch_dtype: 'float32',
  use_cache: true,
};

export const PRESETS: Record<PresetName, Record<string, unknown>> = {
  tiny: { ...BASE, vocab_size: 512, hidden_size: 64, intermediate_size: 176, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 256, rms_norm_eps: 1e-5 },
  stories15M: { ...BASE, vocab_size: 32000, hidden_size: 288, intermediate_size: 768, num_hidden_layers: 6, num_attention_heads: 6, num_key_value_heads: 6, max_position_embeddings: 256, rms_norm_eps: 1e-5 },
  stories110M: { ...BASE, vocab_size: 32000, hidden_size: 768, intermediate_size: 2048, num_hidden_layers: 12, num_attention_heads: 12, num_key_value_heads: 12, max_position_embeddings: 1024, rms_norm_eps: 1e-5 },
  'llama2-7b': { ...BASE, vocab_size: 32000, hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 32, max_position_embeddings: 4096, rms_norm_eps: 1e-5, torch_dtype: 'bfloat16' },
};

export function presetConfig(name: PresetName, overrides: Record<string, unknown> = {}): LlamaConfig {
  const base = PRESETS[name];
  if (!base) throw new RangeError(`unknown preset '${name}' (expected one of ${Object.keys(PRESETS).join(', ')})`);
  return parseLlamaConfig({ ...base, ...overrides }, `preset ${name}`);
}
