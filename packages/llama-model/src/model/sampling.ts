/**
 * Token sampling with Hugging Face generate() semantics: temperature, then top-k, then top-p
 * (TopKLogitsWarper / TopPLogitsWarper order), greedy when temperature is 0 or do_sample is off.
 */
import type { Rng } from '@llama-moe/tensor-core';

export interface SamplingOptions {
  /** 0 (default) = greedy. */
  temperature?: number;
  /** Keep the k most likely tokens (0 = off). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability mass reaches p (1 = off). */
  topP?: number;
}

export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

export function sampleToken(logits: Float32Array, opts: SamplingOptions, rng: Rng): number {
  const temperature = opts.temperature ?? 0;
  if (!(temperature > 0)) return argmax(logits);
  const V = logits.length;
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
  let keep = V;
  if (opts.topK && opts.topK > 0) keep = Math.min(keep, opts.topK);
  const scaled = new Float64Array(keep);
  const mx = logits[order[0]!]! / temperature;
  let z = 0;
  for (let i = 0; i < keep; i++) { scaled[i] = Math.exp(logits[order[i]!]! / temperature - mx); z += scaled[i]!; }
  const topP = opts.topP ?? 1;
  if (topP < 1) {
    // Keep tokens until the cumulative probability reaches top_p (at least one).
    let cum = 0;
    let n = 0;
    while (n < keep) { cum += scaled[n]! / z; n++; if (cum >= topP) break; }
    keep = n;
    z = 0;
    for (let i = 0; i < keep; i++) z += scaled[i]!;
  }
  let u = rng.uniform() * z;
  for (let i = 0; i < keep; i++) { u -= scaled[i]!; if (u <= 0) return order[i]!; }
  return order[keep - 1]!;
}
