/**
 * An MoE model's config: its format (LLaMA-MoE or Mixtral) and MoeSpec read from config.json keys, the
 * config an MoE of a given spec gets, and the per-layer MoE layer options a spec implies.
 */
import { parseLlamaConfig, pyJsonDumps, type LlamaConfig } from '@llama-moe/llama-model';
import { llamaMoeConfigJson } from '../formats/llama-moe.js';
import { FormatError, mixtralConfigJson } from '../formats/mixtral.js';
import { defaultMoeSpec, scoreScaleAt, type MoeSpec } from '../formats/moe-spec.js';

export type MoeFormat = 'llama-moe' | 'mixtral';

export function moeFfnOptions(spec: MoeSpec, layer: number, format: MoeFormat) {
  return {
    layout: format,
    scoreScale: format === 'mixtral' ? 1 : scoreScaleAt(spec, layer),
    multiplyGateScores: spec.multiplyGateScores,
    calculator: spec.calculatorType,
    dropTokens: spec.dropTokens,
    capacityFactor: spec.capacityFactor,
    droppedPadding: spec.droppedPadding,
  } as const;
}

/**
 * An MoE model's spec and format, read from its config (`model_type` llama_moe or mixtral and the
 * MoE keys), or null for a dense model: whether a model is an MoE is a property of its config, as
 * in transformers.
 */
export function moeConfigOf(cfg: LlamaConfig): { spec: MoeSpec; format: MoeFormat } | null {
  return cfg.model_type === 'llama_moe' || cfg.model_type === 'mixtral' ? specFromConfig(cfg) : null;
}

/** MoE keys of both formats: removed from a config before another format's keys are written. */
const MOE_CONFIG_KEYS = [
  'num_experts', 'num_selects', 'size_experts', 'gate_type', 'gate_network', 'gate_use_softmax', 'gate_use_balance', 'gate_balance_loss_weight', 'gate_add_noise', 'gate_noise_epsilon',
  'calculator_type', 'multiply_gate_scores', 'score_scale_factor', 'add_weight_norm', 'drop_tokens', 'dropped_padding', 'capacity_factor',
  'num_local_experts', 'num_experts_per_tok', 'router_aux_loss_coef', 'output_router_logits', 'router_jitter_noise',
] as const;
const MOE_EXTRA_KEYS = ['size_shared_experts', 'gate_z_loss_weight'] as const;

/** `cfg` without any MoE key (typed or extra): the LLaMA part of an MoE config. */
export function denseBaseConfig(cfg: LlamaConfig): LlamaConfig {
  const out = { ...cfg, extra: { ...cfg.extra } } as LlamaConfig & Record<string, unknown>;
  for (const k of MOE_CONFIG_KEYS) delete out[k];
  for (const k of MOE_EXTRA_KEYS) delete out.extra[k];
  return out;
}

/** config.json of `cfg`'s model as an MoE of `spec` in `format` (plain JSON values, PyFloat markers kept). */
export function moeConfigJson(cfg: LlamaConfig, spec: MoeSpec, format: MoeFormat, dtype: string): Record<string, unknown> {
  const base = denseBaseConfig(cfg);
  return format === 'mixtral' ? mixtralConfigJson(base, spec, dtype) : llamaMoeConfigJson(base, spec, dtype);
}

/** The parsed config of an MoE of `spec` in `format` built from `cfg` (what loading its saved folder gives). */
export function moeConfig(cfg: LlamaConfig, spec: MoeSpec, format: MoeFormat): LlamaConfig {
  return parseLlamaConfig(JSON.parse(pyJsonDumps(moeConfigJson(cfg, spec, format, cfg.torch_dtype ?? 'float32'))));
}

/** Read the MoE spec from a llama_moe or mixtral config. */
export function specFromConfig(cfg: LlamaConfig): { spec: MoeSpec; format: MoeFormat } {
  const L = cfg.num_hidden_layers;
  if (cfg.model_type === 'mixtral') {
    const E = cfg.num_local_experts!, k = cfg.num_experts_per_tok!;
    const spec = defaultMoeSpec(L, cfg.intermediate_size * E, E, k);
    return {
      format: 'mixtral',
      spec: { ...spec, gateNetwork: 'linear', gateAddNoise: false, scoreScaleFactor: 1, sizeExperts: Array.from({ length: L }, () => new Array<number>(E).fill(cfg.intermediate_size)), routerAuxLossCoef: cfg.router_aux_loss_coef ?? 0.001 },
    };
  }
  if (cfg.model_type === 'llama_moe') {
    const E = cfg.num_experts!, k = cfg.num_selects!;
    const base = defaultMoeSpec(L, cfg.intermediate_size, E, k);
    const sizes = cfg.size_experts ?? base.sizeExperts;
    if (!sizes.length) throw new FormatError(`config.json: intermediate_size ${cfg.intermediate_size} is not divisible by num_experts ${E} and size_experts is missing`);
    const extra = cfg.extra as Record<string, unknown>;
    return {
      format: 'llama-moe',
      spec: {
        ...base,
        sizeExperts: sizes,
        gateType: (cfg.gate_type ?? 'TopKBalancedNoisyGate') as MoeSpec['gateType'],
        gateNetwork: (cfg.gate_network ?? 'mlp') as 'mlp' | 'linear',
        gateUseSoftmax: cfg.gate_use_softmax ?? true,
        gateUseBalance: cfg.gate_use_balance ?? true,
        gateBalanceLossWeight: cfg.gate_balance_loss_weight ?? 0.01,
        gateAddNoise: cfg.gate_add_noise ?? true,
        gateNoiseEpsilon: cfg.gate_noise_epsilon ?? 0.01,
        calculatorType: (cfg.calculator_type ?? 'UniversalCalculator') as MoeSpec['calculatorType'],
        multiplyGateScores: cfg.multiply_gate_scores ?? true,
        scoreScaleFactor: (cfg.score_scale_factor ?? 1) as number | number[],
        dropTokens: cfg.drop_tokens ?? true,
        droppedPadding: (cfg.dropped_padding ?? 'zero') as 'zero' | 'input',
        capacityFactor: cfg.capacity_factor ?? 1.25,
        sizeSharedExperts: (extra?.size_shared_experts as number[][] | undefined) ?? [],
        gateZLossWeight: typeof extra?.gate_z_loss_weight === 'number' ? extra.gate_z_loss_weight : 0,
      },
    };
  }
  throw new FormatError(`model_type '${cfg.model_type}' is not an MoE model (expected llama_moe or mixtral)`);
}
