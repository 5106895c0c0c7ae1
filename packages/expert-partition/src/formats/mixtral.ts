/**
 * The Mixtral format (model_type "mixtral", MixtralForCausalLM): block_sparse_moe.gate.weight and
 * block_sparse_moe.experts.J.{w1,w2,w3}.weight, so the result runs unchanged in transformers,
 * vLLM and llama.cpp's converter. Mixtral routes with softmax over all experts → top-k →
 * renormalise, which equals a softmax over the k selected logits of a linear gate, i.e.
 * LLaMA-MoE's TopKBalancedNoisyGate with gate_network "linear" at eval. LLaMA-MoE's
 * score_scale_factor has no Mixtral key, so it is folded into w2 (down) of every expert.
 */
import { PyFloat, llamaConfigToJson, type LlamaConfig } from '@llama-moe/llama-model';
import type { MoeSpec } from './moe-spec.js';

export class FormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FormatError';
  }
}

/** Why a spec cannot be written as Mixtral, or null. */
export function mixtralIncompatibility(base: LlamaConfig, spec: MoeSpec): string | null {
  if (spec.gateNetwork !== 'linear') return `Mixtral's router is a single linear layer; gate_network '${spec.gateNetwork}' cannot be expressed (use --format llama-moe, or a linear gate)`;
  if (spec.gateType !== 'TopKBalancedNoisyGate') return `Mixtral routes top-k with softmax; gate_type '${spec.gateType}' cannot be expressed`;
  if (!spec.gateUseSoftmax || !spec.multiplyGateScores) return 'Mixtral always weights experts by renormalised softmax scores';
  const s0 = spec.sizeExperts[0]?.[0];
  if (spec.sizeExperts.some((l) => l.some((s) => s !== s0))) return 'Mixtral needs every expert of every layer to have the same intermediate size (size_experts differ)';
  if (spec.sizeSharedExperts.some((l) => l.length > 0)) return 'Mixtral has no shared experts (sharing-inter)';
  if (spec.calculatorType !== 'UniversalCalculator') return 'Mixtral does not drop tokens (SwitchDropTokenCalculator)';
  if (base.attention_bias || base.mlp_bias) return 'Mixtral has no attention or MLP biases';
  return null;
}

export function mixtralConfigJson(base: LlamaConfig, spec: MoeSpec, dtype: string): Record<string, unknown> {
  const why = mixtralIncompatibility(base, spec);
  if (why) throw new FormatError(why);
  const dense = llamaConfigToJson({ ...base, model_type: 'llama', torch_dtype: dtype });
  for (const k of ['attention_bias', 'mlp_bias', 'pretraining_tp']) delete dense[k];
  if (base.head_dim === base.hidden_size / base.num_attention_heads) delete dense.head_dim;
  return {
    ...dense,
    model_type: 'mixtral',
    architectures: ['MixtralForCausalLM'],
    intermediate_size: spec.sizeExperts[0]![0]!,
    num_local_experts: spec.numExperts,
    num_experts_per_tok: spec.numSelects,
    router_aux_loss_coef: new PyFloat(spec.routerAuxLossCoef),
    output_router_logits: false,
    router_jitter_noise: new PyFloat(0),
    sliding_window: null,
  };
}

export const mixtralNames = {
  gate: (l: number) => `model.layers.${l}.block_sparse_moe.gate.weight`,
  /** w1 = gate_proj, w3 = up_proj, w2 = down_proj (transformers MixtralBlockSparseTop2MLP) */
  expert: (l: number, j: number, w: 'w1' | 'w2' | 'w3') => `model.layers.${l}.block_sparse_moe.experts.${j}.${w}.weight`,
};
