/**
 * MoeSpec: everything that turns a dense LLaMA config into an MoE one, with LLaMA-MoE's
 * defaults (pjlab-sys4nlp/llama-moe LlamaMoEConfig). Both output formats are written from it.
 */
/**
 * LLaMA-MoE's gate classes, plus 'ExpertChoiceGate' (expert-choice routing, Zhou et al. 2022), which
 * LLaMA-MoE's released code does not have: such a model runs here, not in its modelling code.
 */
export type GateType = 'TopKBalancedNoisyGate' | 'SwitchBalancedGate' | 'ExpertChoiceGate';

export interface MoeSpec {
  numExperts: number;
  /** k */
  numSelects: number;
  /** Per layer, per expert intermediate sizes [L][E]. */
  sizeExperts: number[][];
  gateType: GateType;
  gateNetwork: 'mlp' | 'linear';
  gateUseSoftmax: boolean;
  gateUseBalance: boolean;
  gateBalanceLossWeight: number;
  gateAddNoise: boolean;
  gateNoiseEpsilon: number;
  calculatorType: 'UniversalCalculator' | 'SwitchDropTokenCalculator';
  multiplyGateScores: boolean;
  /** A number, or one per layer. */
  scoreScaleFactor: number | number[];
  dropTokens: boolean;
  droppedPadding: 'zero' | 'input';
  capacityFactor: number;
  /** Mixtral's router_aux_loss_coef (used when the format is mixtral). */
  routerAuxLossCoef: number;
  /** Always-on shared experts per layer (sharing-inter), sizes [L][Es]; empty for none. */
  sizeSharedExperts: number[][];
  /** ST-MoE router z-loss weight of the gate (config key gate_z_loss_weight, written when > 0; 0 = off). */
  gateZLossWeight: number;
}

export function defaultMoeSpec(layers: number, intermediate: number, numExperts: number, numSelects: number): MoeSpec {
  if (!Number.isInteger(numExperts) || numExperts < 1) throw new RangeError(`--experts must be a positive integer, got ${numExperts}`);
  if (!Number.isInteger(numSelects) || numSelects < 1 || numSelects > numExperts) throw new RangeError(`--top-k must be an integer in [1, ${numExperts}] (the number of experts), got ${numSelects}`);
  const sizes = intermediate % numExperts === 0 ? Array.from({ length: layers }, () => new Array<number>(numExperts).fill(intermediate / numExperts)) : [];
  return {
    numExperts, numSelects, sizeExperts: sizes, gateType: 'TopKBalancedNoisyGate', gateNetwork: 'mlp', gateUseSoftmax: true, gateUseBalance: true,
    gateBalanceLossWeight: 0.01, gateAddNoise: true, gateNoiseEpsilon: 0.01, calculatorType: 'UniversalCalculator', multiplyGateScores: true,
    scoreScaleFactor: numExperts / numSelects, dropTokens: true, droppedPadding: 'zero', capacityFactor: 1.25, routerAuxLossCoef: 0.001, sizeSharedExperts: [], gateZLossWeight: 0,
  };
}

export function scoreScaleAt(spec: MoeSpec, layer: number): number {
  return Array.isArray(spec.scoreScaleFactor) ? spec.scoreScaleFactor[layer]! : spec.scoreScaleFactor;
}
