/**
 * An MoE LlamaForCausalLM from a checkpoint of either format (a folder, or bytes in memory in a browser),
 * and its tensors under either format's names.
 */
import { noGrad, scale, Tensor } from '@llama-moe/tensor-core';
import { LlamaForCausalLM, loadLlamaFrom, readParam, type LlamaConfig, type ReadableCheckpoint, type SaveDType } from '@llama-moe/llama-model';
import { ExpertChoiceGate, MixtralGate, MoeFeedForward, NoisyTopKGate, SwitchGate, type ExpertWeights, type GateModule } from '@llama-moe/router/modules';
import { llamaMoeNames } from '../formats/llama-moe.js';
import { FormatError, mixtralNames } from '../formats/mixtral.js';
import { scoreScaleAt, type MoeSpec } from '../formats/moe-spec.js';
import { moeConfigOf, moeFfnOptions, specFromConfig, type MoeFormat } from './moe-config.js';

/** Experts' FFN outputs scaled so Mixtral (no scale key) computes what LLaMA-MoE computes with score_scale_factor. */
function foldScale(down: Tensor, s: number): Tensor {
  return s === 1 ? down : noGrad(() => scale(down, s));
}

/** The tensors of an MoE model in the given format, in transformers' state_dict order. */
export function moeTensors(model: LlamaForCausalLM, format: MoeFormat): [string, Tensor][] {
  const info = moeConfigOf(model.config);
  if (!info) throw new FormatError(`not an MoE model (model_type '${model.config.model_type}')`);
  if (format === info.format) return model.namedParameters();
  // Convert layout: re-emit the FFN tensors under the other format's names.
  const out: [string, Tensor][] = [];
  for (const [name, t] of model.namedParameters()) {
    const m = /^model\.layers\.(\d+)\.(mlp|block_sparse_moe)\./.exec(name);
    if (!m) { out.push([name, t]); continue; }
    const l = Number(m[1]);
    const ffn = model.weights.layers[l]!.mlp as MoeFeedForward;
    if (!out.some(([n]) => n.startsWith(`model.layers.${l}.${format === 'mixtral' ? 'block_sparse_moe' : 'mlp'}.`))) {
      const gateP = ffn.gate.namedParameters();
      if (format === 'mixtral') {
        const w = gateP.find(([n]) => n === 'gate.gate_network.weight')?.[1];
        if (!w) throw new FormatError(`layer ${l}: only a linear gate converts to Mixtral`);
        out.push([mixtralNames.gate(l), w]);
        const s = scoreScaleAt(info.spec, l);
        ffn.experts.forEach((e, j) => out.push([mixtralNames.expert(l, j, 'w1'), e.gate], [mixtralNames.expert(l, j, 'w2'), foldScale(e.down, s)], [mixtralNames.expert(l, j, 'w3'), e.up]));
      } else {
        const w = gateP.find(([n]) => n === 'gate.weight')![1];
        out.push([llamaMoeNames.gateNetwork(l, null), w], [llamaMoeNames.weightNoise(l), new Tensor(new Float32Array(w.size), w.shape)]);
        ffn.experts.forEach((e, j) => out.push([llamaMoeNames.expert(l, 'gate', j), e.gate]));
        ffn.experts.forEach((e, j) => out.push([llamaMoeNames.expert(l, 'up', j), e.up]));
        ffn.experts.forEach((e, j) => out.push([llamaMoeNames.expert(l, 'down', j), e.down]));
      }
    }
  }
  return out;
}

export interface SaveMoeOptions {
  format?: MoeFormat;
  dtype?: SaveDType;
  maxShardBytes?: number;
  overwrite?: boolean;
  extraFiles?: Record<string, unknown>;
}

function loadMoeFfn(l: number, ckpt: ReadableCheckpoint, cfg: LlamaConfig, spec: MoeSpec, format: MoeFormat, seed: number): MoeFeedForward {
  const D = cfg.hidden_size, E = spec.numExperts;
  const sizes = spec.sizeExperts[l];
  if (!sizes || sizes.length !== E) throw new FormatError(`config.json: size_experts[${l}] must list ${E} expert sizes`);
  const experts: ExpertWeights[] = [];
  let gate: GateModule;
  if (format === 'mixtral') {
    gate = new MixtralGate({ hiddenSize: D, numExperts: E, topK: spec.numSelects, routerAuxLossCoef: spec.routerAuxLossCoef }, readParam(ckpt, mixtralNames.gate(l), [E, D]));
    for (let j = 0; j < E; j++) {
      const s = sizes[j]!;
      experts.push({ gate: readParam(ckpt, mixtralNames.expert(l, j, 'w1'), [s, D]), up: readParam(ckpt, mixtralNames.expert(l, j, 'w3'), [s, D]), down: readParam(ckpt, mixtralNames.expert(l, j, 'w2'), [D, s]) });
    }
  } else {
    const net = spec.gateNetwork === 'mlp'
      ? [readParam(ckpt, llamaMoeNames.gateNetwork(l, 0), [E, D]), readParam(ckpt, llamaMoeNames.gateNetwork(l, 2), [E, E])]
      : [readParam(ckpt, llamaMoeNames.gateNetwork(l, null), [E, D])];
    if (spec.gateType === 'ExpertChoiceGate') {
      gate = new ExpertChoiceGate({ hiddenSize: D, numExperts: E, gateNetwork: spec.gateNetwork, capacityFactor: spec.capacityFactor, zLossCoef: spec.gateZLossWeight }, net);
    } else if (spec.gateType === 'SwitchBalancedGate') {
      gate = new SwitchGate({ hiddenSize: D, numExperts: E, gateNetwork: spec.gateNetwork, balanceLossWeight: spec.gateBalanceLossWeight, addNoise: spec.gateAddNoise, useBalance: spec.gateUseBalance, zLossCoef: spec.gateZLossWeight }, net);
    } else {
      const wn = ckpt.has(llamaMoeNames.weightNoise(l)) ? readParam(ckpt, llamaMoeNames.weightNoise(l), [E, D]) : undefined;
      gate = new NoisyTopKGate({
        hiddenSize: D, numExperts: E, numSelects: spec.numSelects, gateNetwork: spec.gateNetwork, useSoftmax: spec.gateUseSoftmax, useBalance: spec.gateUseBalance,
        balanceLossWeight: spec.gateBalanceLossWeight, addNoise: spec.gateAddNoise, noiseEpsilon: spec.gateNoiseEpsilon, zLossCoef: spec.gateZLossWeight,
      }, net, wn);
    }
    for (let j = 0; j < E; j++) {
      const s = sizes[j]!;
      experts.push({ gate: readParam(ckpt, llamaMoeNames.expert(l, 'gate', j), [s, D]), up: readParam(ckpt, llamaMoeNames.expert(l, 'up', j), [s, D]), down: readParam(ckpt, llamaMoeNames.expert(l, 'down', j), [D, s]) });
    }
  }
  const shared: ExpertWeights[] = (spec.sizeSharedExperts[l] ?? []).map((s, j) => ({
    gate: readParam(ckpt, llamaMoeNames.shared(l, 'gate', j), [s, D]), up: readParam(ckpt, llamaMoeNames.shared(l, 'up', j), [s, D]), down: readParam(ckpt, llamaMoeNames.shared(l, 'down', j), [D, s]),
  }));
  return new MoeFeedForward(gate, experts, moeFfnOptions(spec, l, format), shared, seed * 1000 + l);
}

/** Build a llama_moe or mixtral model from any checkpoint (a folder, or bytes in memory in a browser). */
export function loadMoeModelFrom(ckpt: ReadableCheckpoint, cfg: LlamaConfig, opts: { seed?: number } = {}): LlamaForCausalLM {
  const { spec, format } = specFromConfig(cfg);
  const model = loadLlamaFrom(ckpt, cfg, { ffnLoader: (l, c, config) => loadMoeFfn(l, c, config, spec, format, opts.seed ?? 0) });
  model.nameParameters();
  return model;
}
