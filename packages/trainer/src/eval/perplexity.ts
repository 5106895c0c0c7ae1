/**
 * Perplexity on held-out blocks: mean next-token NLL over every predicted token (each block of T
 * tokens predicts T − 1), overall and per domain, perplexity = exp(mean NLL). Runs in no-grad,
 * eval mode (no gate noise); the NLL sums are kept in f64.
 */
import { crossEntropyPerRow, indices, noGrad, reshape } from '@llama-moe/tensor-core';
import type { ScoringModel } from '../model.js';
import { TrainerError } from '../errors.js';

export interface PerplexityResult {
  loss: number;
  ppl: number;
  /** Predicted tokens counted. */
  tokens: number;
}

export interface PerplexityReport {
  overall: PerplexityResult;
  perDomain: Record<string, PerplexityResult>;
}

/** Σ NLL and token count of a batch of equal-length blocks. */
function batchNll(model: ScoringModel, blocks: readonly Int32Array[]): { sum: number; count: number } {
  const B = blocks.length;
  const T = blocks[0]!.length;
  /** [B, T] */
  const ids = new Int32Array(B * T);
  blocks.forEach((b, i) => {
    if (b.length !== T) throw new TrainerError('eval', `perplexity: blocks in one batch must have the same length (${T} vs ${b.length})`);
    ids.set(b, i * T);
  });
  const logits = noGrad(() => model.forward(indices(ids, [B, T]), { training: false }).logits);
  const V = logits.shape[logits.rank - 1]!;
  /** [B·T] next token, -100 on each row's last position */
  const targets = new Int32Array(B * T).fill(-100);
  for (let b = 0; b < B; b++) for (let t = 0; t + 1 < T; t++) targets[b * T + t] = ids[b * T + t + 1]!;
  const nll = crossEntropyPerRow(reshape(logits, [B * T, V]), indices(targets));
  let sum = 0;
  for (let i = 0; i < nll.length; i++) sum += nll[i]!;
  return { sum, count: B * (T - 1) };
}

export function evaluatePerplexity(model: ScoringModel, validation: Readonly<Record<string, readonly Int32Array[]>>, opts: { batchSize?: number } = {}): PerplexityReport {
  const bs = opts.batchSize ?? 4;
  const perDomain: Record<string, PerplexityResult> = {};
  let total = 0;
  let count = 0;
  for (const [domain, blocks] of Object.entries(validation)) {
    let s = 0;
    let n = 0;
    for (let i = 0; i < blocks.length; i += bs) {
      const r = batchNll(model, blocks.slice(i, i + bs));
      s += r.sum;
      n += r.count;
    }
    const loss = n ? s / n : NaN;
    perDomain[domain] = { loss, ppl: Math.exp(loss), tokens: n };
    total += s;
    count += n;
  }
  const loss = count ? total / count : NaN;
  return { overall: { loss, ppl: Math.exp(loss), tokens: count }, perDomain };
}
