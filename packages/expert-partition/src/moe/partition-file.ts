/** llama_moe_partition.json: which dense neurons each expert holds, from the layers' recorded origins. */
import { LlamaForCausalLM } from '@llama-moe/llama-model';
import { MoeFeedForward, type ExpertOrigin } from '@llama-moe/router/modules';

export const PARTITION_FILE = 'llama_moe_partition.json';

/** llama_moe_partition.json: where every expert's neurons came from in the dense model. */
export interface PartitionFile {
  method: string;
  format_version: 1;
  /** [L][E] neuron ids; null for copies (upcycle, drop-upcycle): nothing to merge back. */
  experts: number[][][] | null;
  /** [L][Es] neuron ids of the shared experts, or null. */
  shared_experts: number[][][] | null;
  /** score_scale_factor folded into the experts' down weights (Mixtral layout): one, or one per layer; null when none. */
  folded_score_scale: number | number[] | null;
}

/** The partition file of a model whose every MoE layer knows its origin (built from a dense model), else null. */
export function partitionFileOf(model: LlamaForCausalLM): PartitionFile | null {
  const origins = model.weights.layers.map((L) => (L.mlp instanceof MoeFeedForward ? L.mlp.origin : null));
  if (!origins.length || origins.some((o) => o === null)) return null;
  const os = origins as ExpertOrigin[];
  const method = os[0]!.method;
  const copies = os.some((o) => o.experts === null);
  const folded = os.map((o) => o.foldedScale);
  return {
    method, format_version: 1,
    experts: copies ? null : os.map((o) => o.experts!),
    shared_experts: os.every((o) => o.shared === null) ? null : os.map((o) => o.shared ?? []),
    folded_score_scale: folded.every((f) => f === null) ? null : folded.every((f) => f === folded[0]) ? folded[0]! : folded.map((f) => f ?? 1),
  };
}

/** Attach a partition file's origins to the layers of a loaded model (so that saving it again keeps the file). */
export function setPartitionFile(model: LlamaForCausalLM, pf: PartitionFile): void {
  model.weights.layers.forEach((L, l) => {
    if (!(L.mlp instanceof MoeFeedForward)) return;
    const f = pf.folded_score_scale;
    L.mlp.origin = {
      method: pf.method, experts: pf.experts?.[l] ?? null, shared: pf.shared_experts?.[l] ?? null,
      foldedScale: f === null ? null : Array.isArray(f) ? (f[l] ?? null) : f,
    };
  });
}
