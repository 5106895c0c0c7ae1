export {
  NoisyTopKGate, MixtralGate, SwitchGate, ExpertChoiceGate, normalCdfOp, cvSquaredOp, zLossOp,
  type GateModule, type GateOutput, type GateContext, type NoisyTopKGateConfig, type MixtralGateConfig, type SwitchGateConfig, type ExpertChoiceGateConfig,
} from './gate-modules.js';
