/** The gate losses of a loaded MoE that a training run may change, in its layers and its config alike. */
import { LlamaForCausalLM } from '@llama-moe/llama-model';
import { ExpertChoiceGate, MixtralGate, MoeFeedForward, NoisyTopKGate, SwitchGate, type GateModule } from '@llama-moe/router/modules';
import { FormatError } from '../formats/mixtral.js';
import { moeConfig, moeConfigOf } from './moe-config.js';

/** Loss settings of a loaded MoE model that a training run may change (LLaMA-MoE config keys). */
export interface MoeLossSettings {
  /** gate_balance_loss_weight (llama_moe) / router_aux_loss_coef (mixtral). */
  balanceLossWeight?: number;
  /** gate_z_loss_weight: the router z-loss (llama_moe only: a Mixtral config.json cannot store it). */
  zLossWeight?: number;
  /** capacity_factor of the switch gate's token dropping. */
  capacityFactor?: number;
}

/**
 * Change the balance-loss weight, z-loss weight or capacity factor of every MoE layer of `model`,
 * and its spec, so that the checkpoints it is saved to say what it was trained with.
 */
export function setMoeLossSettings(model: LlamaForCausalLM, s: MoeLossSettings): void {
  const info = moeConfigOf(model.config);
  if (!info) throw new FormatError('not an MoE model: there is no gate whose losses could be set');
  if (s.zLossWeight !== undefined && s.zLossWeight > 0 && info.format === 'mixtral') throw new FormatError('z_loss_weight: a Mixtral config.json has no z-loss key; split with --format llama-moe');
  if (s.capacityFactor !== undefined && info.spec.calculatorType !== 'SwitchDropTokenCalculator' && info.spec.gateType !== 'ExpertChoiceGate') throw new FormatError(`capacity_factor: only a switch or expert-choice gate has a capacity (this model's gate is ${info.spec.gateType}); split with --gate switch or --gate expert-choice`);
  const spec = { ...info.spec };
  if (s.balanceLossWeight !== undefined) {
    if (info.format === 'mixtral') spec.routerAuxLossCoef = s.balanceLossWeight;
    else spec.gateBalanceLossWeight = s.balanceLossWeight;
  }
  if (s.zLossWeight !== undefined) spec.gateZLossWeight = s.zLossWeight;
  if (s.capacityFactor !== undefined) spec.capacityFactor = s.capacityFactor;
  for (const L of model.weights.layers) {
    const ffn = L.mlp;
    if (!(ffn instanceof MoeFeedForward)) continue;
    const g = ffn.gate as GateModule & { cfg?: Record<string, unknown> };
    if (g instanceof MixtralGate) {
      if (s.balanceLossWeight !== undefined) (g.cfg as { routerAuxLossCoef: number }).routerAuxLossCoef = s.balanceLossWeight;
    } else if (g instanceof NoisyTopKGate || g instanceof SwitchGate || g instanceof ExpertChoiceGate) {
      if (s.balanceLossWeight !== undefined) (g.cfg as { balanceLossWeight: number }).balanceLossWeight = s.balanceLossWeight;
      if (s.zLossWeight !== undefined) (g.cfg as { zLossCoef: number }).zLossCoef = s.zLossWeight;
      if (s.capacityFactor !== undefined && g instanceof ExpertChoiceGate) (g.cfg as { capacityFactor: number }).capacityFactor = s.capacityFactor;
    }
    if (s.capacityFactor !== undefined) (ffn.opts as { capacityFactor: number }).capacityFactor = s.capacityFactor;
  }
  // The config says what the model is trained with, so that its checkpoints say it too.
  Object.assign(model.config, moeConfig(model.config, spec, info.format));
}
