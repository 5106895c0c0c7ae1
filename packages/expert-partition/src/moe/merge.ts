/** MoE → dense: every expert's rows and columns put back at their neuron ids. */
import { scale, Tensor } from '@llama-moe/tensor-core';
import { DenseFeedForward, LlamaForCausalLM, type LlamaConfig } from '@llama-moe/llama-model';
import { MoeFeedForward, type ExpertWeights } from '@llama-moe/router/modules';
import { FormatError } from '../formats/mixtral.js';

/**
 * MoE → dense: put every expert's rows/columns back at their neuron ids. With the partition file
 * written by split, a partition method returns the original weights bit for bit; without it the
 * experts are concatenated in order (an equivalent FFN up to a neuron permutation). Shared experts
 * (sharing-inter) hold the neurons the routed ones do not, so they are merged back the same way,
 * at the ids of `sharedPartition` (after the routed neurons when it is not given).
 */
export function mergeExperts(model: LlamaForCausalLM, partition: number[][][] | null, foldedScale: number | number[] | null = null, sharedPartition: number[][][] | null = null): LlamaForCausalLM {
  const cfg = model.config;
  const D = cfg.hidden_size;
  const layers = model.weights.layers.map((L, l) => {
    const ffn = L.mlp as MoeFeedForward;
    if (!(ffn instanceof MoeFeedForward)) throw new FormatError(`layer ${l} is not an MoE layer`);
    // Shared experts (carve, sharing-inter) hold the neurons the routed ones do not: they go back in
    // too, at the ids of `sharedPartition` (after the routed neurons when it is not given).
    // A partition file that lists the routed experts' neurons but not the shared ones leaves the
    // shared neurons' ids unknown (in order after the routed ones only when no partition is given).
    if (ffn.shared.length && partition?.[l] && !sharedPartition?.[l]) throw new FormatError('merge-experts: the model has shared experts but no partition file listing their neurons; it cannot be merged back');
    let next = 0;
    const inOrder = (list: readonly ExpertWeights[]) => list.map((e) => Array.from({ length: e.gate.shape[0]! }, () => next++));
    const parts = partition?.[l] ?? inOrder(ffn.experts);
    if (!partition?.[l]) next = parts.reduce((a, p) => a + p.length, 0);
    const sharedParts = ffn.shared.length ? (sharedPartition?.[l] ?? inOrder(ffn.shared)) : [];
    if (sharedParts.length !== ffn.shared.length) throw new FormatError(`layer ${l}: the partition file lists ${sharedParts.length} shared experts, the model has ${ffn.shared.length}`);
    const F = parts.reduce((a, p) => a + p.length, 0) + sharedParts.reduce((a, p) => a + p.length, 0);
    const seen = new Uint8Array(F);
    for (const p of [...parts, ...sharedParts]) for (const i of p) {
      if (i < 0 || i >= F || seen[i]) throw new FormatError(`layer ${l}: neuron ${i} appears twice or is out of range; only partitions that hold every neuron once (random, clustering, graph, gradient, sharing-inter, carve) merge back`);
      seen[i] = 1;
    }
    const gate = new Float32Array(F * D), up = new Float32Array(F * D), down = new Float32Array(D * F);
    // Undo a score scale folded into Mixtral's w2 (exact when the scale is a power of two, e.g. E/k = 4).
    const folded = foldedScale === null ? 1 : Array.isArray(foldedScale) ? foldedScale[l]! : foldedScale;
    const scaleDown = 1 / folded;
    const put = (e: ExpertWeights, p: number[], sd: number) => {
      const g = e.gate.f32(), u = e.up.f32(), dn = e.down.f32();
      const s = p.length;
      p.forEach((neuron, r) => {
        gate.set(g.subarray(r * D, (r + 1) * D), neuron * D);
        up.set(u.subarray(r * D, (r + 1) * D), neuron * D);
        for (let d = 0; d < D; d++) down[d * F + neuron] = sd === 1 ? dn[d * s + r]! : Math.fround(dn[d * s + r]! * sd);
      });
    };
    parts.forEach((p, j) => put(ffn.experts[j]!, p, scaleDown));
    // The score scale never multiplies the shared experts.
    sharedParts.forEach((p, j) => put(ffn.shared[j]!, p, 1));
    return { ...L, mlp: new DenseFeedForward(new Tensor(gate, [F, D]), new Tensor(up, [F, D]), new Tensor(down, [D, F])) };
  });
  const F = layers[0] ? (layers[0].mlp as DenseFeedForward).gate.shape[0]! : cfg.intermediate_size;
  const cfgOut: LlamaConfig = { ...cfg, model_type: 'llama', architectures: ['LlamaForCausalLM'], intermediate_size: F };
  for (const k of ['num_experts', 'num_selects', 'size_experts', 'gate_type', 'gate_network', 'gate_use_softmax', 'gate_use_balance', 'gate_balance_loss_weight', 'gate_add_noise', 'gate_noise_epsilon', 'calculator_type', 'multiply_gate_scores', 'score_scale_factor', 'add_weight_norm', 'drop_tokens', 'dropped_padding', 'capacity_factor', 'num_local_experts', 'num_experts_per_tok', 'router_aux_loss_coef', 'output_router_logits', 'router_jitter_noise'] as const) {
    delete (cfgOut as unknown as Record<string, unknown>)[k];
  }
  const m = new LlamaForCausalLM(cfgOut, { ...model.weights, layers });
  m.nameParameters();
  return m;
}
