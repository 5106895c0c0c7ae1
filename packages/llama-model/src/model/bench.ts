/**
 * Inference figures for `pnpm bench`: prefill and decode tokens/s on the stories15M and
 * stories110M shapes (random weights), beside the memory-bandwidth bound of decoding — every
 * weight byte is read once per token, so tokens/s ≲ copy bandwidth ÷ weight bytes, with the copy
 * bandwidth measured in the same run.
 */
import { createRng } from '@llama-moe/tensor-core';
import { generate } from './generate.js';
import { LlamaForCausalLM } from './llama.js';
import { presetConfig, type PresetName } from './presets.js';

export interface InferenceBench {
  preset: PresetName;
  params: number;
  weightBytes: number;
  prefillTokens: number;
  prefillTokPerSec: number;
  decodeTokens: number;
  decodeTokPerSec: number;
  /** copy bandwidth (bytes/s) ÷ weight bytes */
  decodeBoundTokPerSec: number;
}

/** Float32Array.set throughput over a buffer much larger than the caches (GB/s = bytes/s / 1e9). */
export function measureCopyBandwidth(bytes = 256 * 1024 * 1024, reps = 4): number {
  const n = bytes / 4;
  const a = new Float32Array(n).fill(1), b = new Float32Array(n);
  b.set(a); // fault the pages in
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    b.set(a);
    best = Math.min(best, performance.now() - t0);
  }
  // Bytes copied per second (the "copy bandwidth"); decode reads each weight byte once per token.
  return bytes / (best / 1000);
}

export function benchInference(preset: PresetName, opts: { prefill?: number; decode?: number; copyBandwidth?: number } = {}): InferenceBench {
  const cfg = presetConfig(preset);
  const model = LlamaForCausalLM.random(cfg, { seed: 1 });
  const params = model.parameters().reduce((a, p) => a + p.size, 0);
  const weightBytes = params * 4;
  const rng = createRng(2);
  const prefill = opts.prefill ?? 128;
  const decode = opts.decode ?? 32;
  const prompt = Array.from({ length: prefill }, () => rng.int(cfg.vocab_size));
  generate(model, prompt.slice(0, 8), { maxNewTokens: 2, stopTokens: [] }); // warm-up
  const r = generate(model, prompt, { maxNewTokens: decode, stopTokens: [] });
  const bw = opts.copyBandwidth ?? measureCopyBandwidth();
  return {
    preset, params, weightBytes,
    prefillTokens: prefill, prefillTokPerSec: prefill / (r.prefillMs / 1000),
    decodeTokens: r.tokens.length - 1, decodeTokPerSec: (r.tokens.length - 1) / (r.decodeMs / 1000),
    decodeBoundTokPerSec: bw / weightBytes,
  };
}
