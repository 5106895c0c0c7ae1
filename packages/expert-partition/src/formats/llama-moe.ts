/**
 * The LLaMA-MoE checkpoint format (model_type "llama_moe", architectures LlamaMoEForCausalLM):
 * the config keys of the released checkpoints, verbatim, and the tensor names
 * model.layers.N.mlp.gate.gate_network.{0,2}.weight, mlp.gate.weight_noise.weight and
 * mlp.calculator.experts.weight_{gate,up,down}.J.
 */
import { PyFloat, llamaConfigToJson, type LlamaConfig } from '@llama-moe/llama-model';
import type { MoeSpec } from './moe-spec.js';

export function llamaMoeConfigJson(base: LlamaConfig, spec: MoeSpec, dtype: string): Record<string, unknown> {
  const dense = llamaConfigToJson({ ...base, model_type: 'llama', torch_dtype: dtype });
  // Keys of LlamaMoEConfig (and of the released LLaMA-MoE-v1 configs), in addition to the LLaMA ones.
  const moe: Record<string, unknown> = {
    model_type: 'llama_moe',
    architectures: ['LlamaMoEForCausalLM'],
    num_experts: spec.numExperts,
    num_selects: spec.numSelects,
    size_experts: spec.sizeExperts,
    gate_type: spec.gateType,
    gate_network: spec.gateNetwork,
    gate_use_softmax: spec.gateUseSoftmax,
    gate_use_balance: spec.gateUseBalance,
    gate_balance_loss_weight: new PyFloat(spec.gateBalanceLossWeight),
    gate_add_noise: spec.gateAddNoise,
    gate_noise_epsilon: new PyFloat(spec.gateNoiseEpsilon),
    calculator_type: spec.calculatorType,
    multiply_gate_scores: spec.multiplyGateScores,
    score_scale_factor: Array.isArray(spec.scoreScaleFactor) ? spec.scoreScaleFactor.map((v) => new PyFloat(v)) : new PyFloat(spec.scoreScaleFactor),
    add_weight_norm: false,
    drop_tokens: spec.dropTokens,
    dropped_padding: spec.droppedPadding,
    capacity_factor: new PyFloat(spec.capacityFactor),
  };
  if (spec.sizeSharedExperts.some((l) => l.length > 0)) moe.size_shared_experts = spec.sizeSharedExperts;
  // Not a key of the released LlamaMoEConfig (its code ignores it): only written when the z-loss is on.
  if (spec.gateZLossWeight > 0) moe.gate_z_loss_weight = new PyFloat(spec.gateZLossWeight);
  return { ...dense, ...moe };
}

export const llamaMoeNames = {
  gateNetwork: (l: number, i: 0 | 2 | null) => `model.layers.${l}.mlp.gate.gate_network${i === null ? '' : `.${i}`}.weight`,
  weightNoise: (l: number) => `model.layers.${l}.mlp.gate.weight_noise.weight`,
  expert: (l: number, which: 'gate' | 'up' | 'down', j: number) => `model.layers.${l}.mlp.calculator.experts.weight_${which}.${j}`,
  shared: (l: number, which: 'gate' | 'up' | 'down', j: number) => `model.layers.${l}.mlp.shared_experts.${j}.${which}_proj.weight`,
};
