/** Router weights for a fresh MoE layer: N(0, 0.02) (the paper), zeros, or rows computed from calibration data. */
import { Tensor, type Rng } from '@llama-moe/tensor-core';
import { ExpertChoiceGate, MixtralGate, NoisyTopKGate, SwitchGate, type GateModule } from '@llama-moe/router/modules';
import { type MoeSpec } from '../formats/moe-spec.js';
import { type MoeFormat } from './moe-config.js';

/**
 * random: N(0, 0.02) (the paper); zeros; the rest are computed from calibration data (router-fit.ts):
 * centroids, kmeans, representative, ridge.
 */
export type GateInit = 'random' | 'zeros' | 'centroids' | 'kmeans' | 'representative' | 'ridge';
export const GATE_INITS: readonly GateInit[] = ['random', 'zeros', 'centroids', 'kmeans', 'representative', 'ridge'];
/** Gate inits whose rows come from calibration data. */
export function isDataGateInit(init: GateInit): boolean {
  return init !== 'random' && init !== 'zeros';
}

export interface GateInitOptions {
  init: GateInit;
  rng: Rng;
  /** [E, D] rows computed from calibration data, for the data inits (centroids, kmeans, representative, ridge). */
  centroids?: Float32Array;
  std?: number;
}

/** Gate weights for a fresh MoE layer: random N(0, 0.02) (the paper), zeros, or rows computed from calibration data. */
export function initGate(spec: MoeSpec, D: number, format: MoeFormat, g: GateInitOptions): GateModule {
  const E = spec.numExperts;
  const std = g.std ?? 0.02;
  const mat = (r: number, c: number, kind: GateInit, centroid?: Float32Array) => {
    const d = new Float32Array(r * c);
    if (kind === 'random') for (let i = 0; i < d.length; i++) d[i] = g.rng.normal() * std;
    else if (isDataGateInit(kind)) d.set(centroid!);
    return new Tensor(d, [r, c]);
  };
  if (isDataGateInit(g.init) && (!g.centroids || g.centroids.length !== E * D)) throw new RangeError(`--gate-init ${g.init} needs calibration data (--data) to compute its [${E}, ${D}] router rows`);
  const first = mat(E, D, g.init, g.centroids);
  if (format === 'mixtral') return new MixtralGate({ hiddenSize: D, numExperts: E, topK: spec.numSelects, routerAuxLossCoef: spec.routerAuxLossCoef }, first);
  const net = spec.gateNetwork === 'mlp'
    // mlp: data rows feed the first layer; the second starts as the identity so their scores pass through (tanh keeps their order).
    ? [first, isDataGateInit(g.init) ? new Tensor(Float32Array.from({ length: E * E }, (_, i) => (i % (E + 1) === 0 ? 1 : 0)), [E, E]) : mat(E, E, g.init)]
    : [first];
  if (spec.gateType === 'ExpertChoiceGate') {
    return new ExpertChoiceGate({ hiddenSize: D, numExperts: E, gateNetwork: spec.gateNetwork, capacityFactor: spec.capacityFactor, zLossCoef: spec.gateZLossWeight }, net);
  }
  if (spec.gateType === 'SwitchBalancedGate') {
    return new SwitchGate({ hiddenSize: D, numExperts: E, gateNetwork: spec.gateNetwork, balanceLossWeight: spec.gateBalanceLossWeight, addNoise: spec.gateAddNoise, useBalance: spec.gateUseBalance, zLossCoef: spec.gateZLossWeight }, net);
  }
  return new NoisyTopKGate({
    hiddenSize: D, numExperts: E, numSelects: spec.numSelects, gateNetwork: spec.gateNetwork, useSoftmax: spec.gateUseSoftmax, useBalance: spec.gateUseBalance,
    balanceLossWeight: spec.gateBalanceLossWeight, addNoise: spec.gateAddNoise, noiseEpsilon: spec.gateNoiseEpsilon, zLossCoef: spec.gateZLossWeight,
  }, net);
}
