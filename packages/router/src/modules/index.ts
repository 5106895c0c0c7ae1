export {
  NoisyTopKGate, MixtralGate, SwitchGate, normalCdfOp, cvSquaredOp, zLossOp,
  type GateModule, type GateOutput, type GateContext, type NoisyTopKGateConfig, type MixtralGateConfig, type SwitchGateConfig,
} from './gate-modules.js';
