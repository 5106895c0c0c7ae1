/**
 * @llama-moe/router: dependency-free, browser-safe MoE routing core on plain typed arrays.
 * Gates (noisy top-k, switch, Mixtral, expert-choice), balance / aux / z losses with analytic
 * backwards, dispatch/combine plans, routing statistics and a seeded RNG.
 */
export { RouterError, type RouterErrorCode, type FloatArray } from './errors.js';
export { createRng, createRngFromState, type Rng, type RngState } from './rng.js';
export {
  normalCdf,
  normalPdf,
  erf,
  softplus,
  softplusGrad,
  noiseControl,
  noiseControlBackward,
  softmaxRows,
  softmaxRowsBackward,
  logSumExpRow,
  entropyOf,
} from './math.js';
export { topkRows } from './topk.js';
export { gateLogits } from './gate-network.js';
export {
  CV_SQUARED_EPS,
  cvSquared,
  cvSquaredBackward,
  routerZLoss,
  routerZLossBackward,
  type RouterZLossResult,
} from './losses.js';
export {
  noisyTopKGate,
  noisyTopKBackward,
  type NoisyTopKNoise,
  type NoisyTopKOptions,
  type NoisyTopKIntermediates,
  type NoisyTopKResult,
  type NoisyTopKGrads,
  type NoisyTopKBackward,
} from './gates/noisy-topk.js';
export {
  switchGate,
  switchRoute,
  switchGateBackward,
  type SwitchRouteOptions,
  type SwitchRouting,
  type SwitchGateOptions,
  type SwitchGateResult,
  type SwitchGateGrads,
} from './gates/switch.js';
export {
  mixtralGate,
  mixtralGateBackward,
  loadBalancingLoss,
  applyJitter,
  type MixtralGateOptions,
  type MixtralGateResult,
  type MixtralGateGrads,
} from './gates/mixtral.js';
export {
  expertChoiceGate,
  expertChoiceBackward,
  type ExpertChoiceOptions,
  type ExpertChoiceResult,
} from './gates/expert-choice.js';
export {
  buildDispatch,
  buildExpertChoiceDispatch,
  expertCapacity,
  gatherRows,
  gatherRowsBackward,
  combine,
  combineBackward,
  scatterSlotGrads,
  tokenExpertCounts,
  applyDroppedPadding,
  resolveScoreScale,
  type DroppedPadding,
  type DispatchOptions,
  type DispatchPlan,
  type CombineOptions,
  type CombineBackward,
} from './dispatch.js';
export {
  routingStats,
  meanTokenEntropy,
  RoutingStatsAccumulator,
  type RoutingCounts,
  type RoutingSummary,
  type TopkRouting,
  type RoutingStatsSource,
  type RoutingStatsOptions,
  type RoutingStats,
  type LayerStatsJSON,
  type RoutingStatsJSON,
} from './stats.js';
export {
  moeForward,
  moeForwardTopk,
  naiveMoeForward,
  type ExpertFn,
  type MoeForwardOptions,
  type NaiveMoeOptions,
} from './moe-forward.js';
