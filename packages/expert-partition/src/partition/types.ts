/**
 * The result type shared by every partition method. Neuron ids index the intermediate axis of a
 * LLaMA FFN: expert j owns rows `experts[j]` of gate_proj/up_proj ([F, D]) and the same columns of
 * down_proj ([D, F]).
 */

export type PartitionMethod = 'random' | 'clustering' | 'graph' | 'gradient' | 'sharing-inner' | 'sharing-inter' | 'upcycle' | 'carve' | 'drop-upcycle';

export const PARTITION_METHODS: readonly PartitionMethod[] = ['random', 'clustering', 'graph', 'gradient', 'sharing-inner', 'sharing-inter', 'upcycle', 'carve', 'drop-upcycle'];

export interface NeuronPartition {
  method: string;
  /** Routed expert sizes; `experts[j].length === sizes[j]`. */
  sizes: number[];
  /** Sorted (ascending) neuron ids per routed expert. */
  experts: Int32Array[];
  /** Always-on residual experts (sharing-inter), sorted ids each; disjoint from `experts`. */
  shared?: Int32Array[];
  /** True when one neuron may belong to several experts (sharing-inner, upcycle, drop-upcycle). */
  overlap: boolean;
  /** clustering: the final k-means centroids [E, D] of the L2-normalised up_proj rows, row j ↔ expert j. */
  centroids?: Float32Array;
  /** clustering: objective after each assignment step (non-increasing). */
  objectiveHistory?: number[];
  /** graph: total weight of co-activation edges whose endpoints lie in different experts. */
  edgeCut?: number;
}
