/**
 * Model FLOPs per trained token, PaLM-style (Chowdhery et al. 2022, appendix B):
 *   6 · N_active  +  12 · L · H · Q · T
 * N_active counts every weight a token multiplies by in the forward pass (attention projections,
 * the FFN experts it is routed to, the gate, the LM head; not the embedding lookup); the second
 * term is attention scores and values (H heads of size Q over context T), forward + backward.
 * For MoE layers only the k selected experts count:
 *   LLaMA-MoE (num_experts E, num_selects k, size_experts per layer or intermediate_size / E):
 *     k · mean expert size · 3·D per layer, plus the gate (D·E, + E·E for the mlp gate network,
 *     + D·E for the noisy gate's noise network when gate_add_noise)
 *   Mixtral (num_local_experts E, num_experts_per_tok k): k · 3·D·F plus D·E.
 */
import type { LlamaConfig } from '@llama-moe/llama-model';

export interface FlopsBreakdown {
  /** Parameters a token passes through (excluding the embedding table). */
  activeParams: number;
  /** 6 · activeParams */
  dense: number;
  /** 12 · L · H · Q · T */
  attention: number;
  /** dense + attention: training FLOPs per token (forward + backward). */
  total: number;
}

type FlopsConfig = Pick<LlamaConfig, 'hidden_size' | 'intermediate_size' | 'num_hidden_layers' | 'num_attention_heads' | 'num_key_value_heads' | 'vocab_size'> &
  Partial<Pick<LlamaConfig, 'head_dim' | 'max_position_embeddings' | 'num_experts' | 'num_selects' | 'size_experts' | 'num_local_experts' | 'num_experts_per_tok' | 'gate_network' | 'gate_type' | 'gate_add_noise' | 'model_type'>>;

/**
 * Training FLOPs per token for `config` at context length `seqLen` (default
 * max_position_embeddings). `activeParams` overrides the count from the config: pass the model's
 * own `activeParamsPerToken()`, which counts an MoE built in memory (whose config is still the
 * dense one it was split from) by its modules.
 */
export function modelFlopsPerToken(config: FlopsConfig, opts: { seqLen?: number; activeParams?: number } = {}): FlopsBreakdown {
  const D = config.hidden_size, F = config.intermediate_size, L = config.num_hidden_layers;
  const Hq = config.num_attention_heads, Hkv = config.num_key_value_heads, V = config.vocab_size;
  const hd = config.head_dim ?? D / Hq;
  const T = opts.seqLen ?? config.max_position_embeddings ?? 2048;
  const attnParams = D * Hq * hd * 2 + D * Hkv * hd * 2;
  let ffn = 0;
  for (let l = 0; l < L; l++) {
    if (config.num_local_experts && config.num_experts_per_tok) {
      ffn += config.num_experts_per_tok * 3 * D * F + D * config.num_local_experts;
    } else if (config.num_experts && config.num_selects) {
      const E = config.num_experts;
      const sizes = config.size_experts?.[l];
      const mean = sizes && sizes.length ? sizes.reduce((a, b) => a + b, 0) / sizes.length : F / E;
      // the noisy gate's noise network (x · W_noise, [E, D]) runs on every training token
      const noise = (config.gate_type ?? 'TopKBalancedNoisyGate') === 'TopKBalancedNoisyGate' && config.gate_add_noise !== false ? D * E : 0;
      ffn += config.num_selects * 3 * D * mean + D * E + (config.gate_network === 'linear' ? 0 : E * E) + noise;
    } else {
      ffn += 3 * D * F;
    }
  }
  const activeParams = opts.activeParams ?? L * attnParams + ffn + D * V;
  const dense = 6 * activeParams;
  const attention = 12 * L * Hq * hd * T;
  return { activeParams, dense, attention, total: dense + attention };
}

/** What the trainer needs to count a model's FLOPs: its config and, where it has one, its own count. */
export interface FlopsModel {
  readonly config: FlopsConfig;
  activeParamsPerToken?(): number;
}

/** Training FLOPs per token of a model, counting its modules where it can (see `modelFlopsPerToken`). */
export function trainingFlopsPerToken(model: FlopsModel, seqLen: number): number {
  return modelFlopsPerToken(model.config, { seqLen, activeParams: model.activeParamsPerToken?.() }).total;
}
