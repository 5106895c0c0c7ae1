/**
 * One optimizer step's forward/backward over its micro-batches: loss = CE + Σ layer balance
 * losses (the model's auxLoss, already weighted), each micro-batch's loss scaled by 1/grad_accum
 * so the accumulated gradient is the mean over micro-batches (a single batch of
 * grad_accum·batch_size rows when every micro-batch has the same number of target tokens).
 */
import { add, indices, scale, type Tensor } from '@llama-moe/tensor-core';
import { causalLmLoss, type RoutingRecord } from '@llama-moe/llama-model';
import type { TrainableModel } from './model.js';

export interface MicroBatch {
  /** [B, T] */
  inputIds: Int32Array;
  batchSize: number;
  seqLen: number;
  /** [B, T] 1 = trained-on token */
  lossMask?: Uint8Array;
  /** [B] domain of each row */
  domains?: string[];
}

export interface ForwardBackwardResult {
  /** Mean over micro-batches of CE + balance. */
  loss: number;
  ceLoss: number;
  balanceLoss: number;
  /** Routing records of each micro-batch (when collectStats). */
  records: RoutingRecord[][];
}

/**
 * Zero every gradient as PyTorch's zero_grad(set_to_none=True) does (`grad` reads null until the
 * next backward reaches the parameter), keeping the buffers for that backward to write in place.
 */
export function zeroGrad(params: readonly Tensor[]): void {
  for (const p of params) p.clearGrad();
}

export function forwardBackward(model: TrainableModel, micro: readonly MicroBatch[], opts: { collectStats?: boolean } = {}): ForwardBackwardResult {
  let ce = 0;
  let bal = 0;
  const records: RoutingRecord[][] = [];
  const k = 1 / micro.length;
  for (const mb of micro) {
    const ids = indices(mb.inputIds, [mb.batchSize, mb.seqLen]);
    const out = model.forward(ids, { training: true, collectStats: !!opts.collectStats });
    const ceT = causalLmLoss(out.logits, ids, mb.lossMask ?? null);
    const total = out.auxLoss ? add(ceT, out.auxLoss) : ceT;
    ce += ceT.item();
    if (out.auxLoss) bal += out.auxLoss.item();
    // nothing of this graph is read after its backward (the losses were read above, routing
    // records are copies): its activations go back to the pool for the next micro-batch's forward
    (micro.length === 1 ? total : scale(total, k)).backward(null, { releaseActivations: true });
    records.push(out.records);
  }
  return { loss: (ce + bal) * k, ceLoss: ce * k, balanceLoss: bal * k, records };
}
