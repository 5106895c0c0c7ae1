export {
  NoisyTopKGate, MixtralGate, SwitchGate, ExpertChoiceGate, normalCdfOp, cvSquaredOp, zLossOp,
  type GateModule, type GateOutput, type GateContext, type NoisyTopKGateConfig, type MixtralGateConfig, type SwitchGateConfig, type ExpertChoiceGateConfig,
} from './gate-modules.js';
export {
  MoeFeedForward, expertForward, combineExperts, DEFAULT_MOE_OPTIONS,
  type ExpertWeights, type MoeFfnOptions, type MoeLayout, type CalculatorType, type MoeLayerRecord, type ExpertOrigin,
} from './moe-layer.js';
