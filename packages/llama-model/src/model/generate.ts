/**
 * Autoregressive generation with a KV cache allocated once: one prefill over the prompt, then
 * one token per step. Seeded sampling, stop tokens, and streaming through a callback or an
 * async iterator.
 */
import { createRng, noGrad } from '@llama-moe/tensor-core';
import type { LlamaForCausalLM } from './llama.js';
import type { RoutingRecord } from './feed-forward.js';
import { sampleToken, type SamplingOptions } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  seed?: number;
  /** Token ids that end generation (the config's eos_token_id by default); the stop token is included in the output. */
  stopTokens?: number[];
  /** Called with each new token id as soon as it is chosen. */
  onToken?: (id: number, step: number) => void | boolean;
  /** Called after each forward step with per-layer routing records (MoE models). */
  onRecords?: (records: RoutingRecord[], step: number) => void;
}

export interface GenerateResult {
  /** New token ids (prompt excluded). */
  tokens: number[];
  /** Why generation ended. */
  finishReason: 'stop' | 'length' | 'callback';
  prefillMs: number;
  decodeMs: number;
}

function defaultStops(model: LlamaForCausalLM): number[] {
  const e = model.config.eos_token_id;
  return e === null || e === undefined ? [] : Array.isArray(e) ? e : [e];
}

/**
 * The decode loop as a synchronous generator: yields each new token id as soon as it is chosen
 * and returns the summary. generate() and generateStream() are thin drivers over it.
 */
export function* generateSteps(model: LlamaForCausalLM, prompt: number[], opts: GenerateOptions): Generator<number, GenerateResult> {
  if (prompt.length === 0) throw new RangeError('generate: the prompt needs at least one token (e.g. the BOS id)');
  const V = model.config.vocab_size;
  for (const id of prompt) if (!Number.isInteger(id) || id < 0 || id >= V) throw new RangeError(`generate: prompt token ${id} is out of range [0, ${V})`);
  if (!(Number.isInteger(opts.maxNewTokens) && opts.maxNewTokens >= 0)) throw new RangeError(`generate: maxNewTokens must be a non-negative integer, got ${opts.maxNewTokens}`);
  const stops = new Set(opts.stopTokens ?? defaultStops(model));
  const maxLen = Math.min(model.config.max_position_embeddings, prompt.length + opts.maxNewTokens);
  if (prompt.length > maxLen) throw new RangeError(`generate: prompt of ${prompt.length} tokens exceeds max_position_embeddings ${model.config.max_position_embeddings}`);
  const cache = model.newCache(maxLen);
  const rng = createRng(opts.seed ?? 0);
  const tokens: number[] = [];
  const collectStats = !!opts.onRecords;
  let t0 = performance.now();
  let out = noGrad(() => model.forward(prompt, { cache, lastOnly: true, collectStats }));
  const prefillMs = performance.now() - t0;
  t0 = performance.now();
  let finishReason: GenerateResult['finishReason'] = 'length';
  for (let step = 0; step < opts.maxNewTokens; step++) {
    opts.onRecords?.(out.records, step);
    const logits = out.logits.f32();
    const id = sampleToken(logits.subarray(logits.length - V), opts, rng);
    tokens.push(id);
    yield id;
    if (opts.onToken?.(id, step) === false) { finishReason = 'callback'; break; }
    if (stops.has(id)) { finishReason = 'stop'; break; }
    if (cache.length >= maxLen || step + 1 === opts.maxNewTokens) break;
    out = noGrad(() => model.forward([id], { cache, collectStats }));
  }
  return { tokens, finishReason, prefillMs, decodeMs: performance.now() - t0 };
}

export function generate(model: LlamaForCausalLM, prompt: number[], opts: GenerateOptions): GenerateResult {
  const it = generateSteps(model, prompt, opts);
  for (;;) {
    const r = it.next();
    if (r.done) return r.value;
  }
}

/** generate() as an async iterator of token ids, yielding to the event loop between tokens (UIs stay responsive). */
export async function* generateStream(model: LlamaForCausalLM, prompt: number[], opts: GenerateOptions): AsyncGenerator<number, GenerateResult> {
  const it = generateSteps(model, prompt, opts);
  for (;;) {
    const r = it.next();
    if (r.done) return r.value;
    yield r.value;
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
  }
}
