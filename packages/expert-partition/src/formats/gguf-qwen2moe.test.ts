/**
 * Why the project's shared-expert MoEs go to GGUF as `llama` (shared experts folded into every
 * routed expert) and not as llama.cpp's `qwen2moe`: this pins, in the llama.cpp that the tests run
 * (node-llama-cpp 3.21.1), the two behaviours of its qwen2moe graph that make an exact export
 * impossible. If a llama.cpp update changes either, these tests fail and qwen2moe becomes an option.
 *
 * 1. Routed experts are weighted by their softmax probabilities over all experts WITHOUT
 *    renormalising the top-k (norm_w = false): the GGUF matches a router with norm_topk_prob false
 *    to float32 rounding and differs from the project's renormalised router.
 * 2. The shared expert's gate is computed as silu(g)/g, which is NaN at g = 0: the zero-gate
 *    construction (sigmoid(0) = 0.5, shared down doubled) that is exact in transformers' qwen2_moe
 *    gives NaN logits in llama.cpp.
 *
 * The writer below is test-only: qwen2moe tensor names, NEOX RoPE (no Q/K permutation), zero q/k/v
 * biases, routed experts as in moeFfnGguf, a one-neuron zero shared expert with a chosen gate.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gguf, llamaGgufParts, LlamaForCausalLM, parseLlamaConfig, PRESETS, sampleTokenizerTexts, Tokenizer, trainLlamaTokenizer, writeGguf } from '@llama-moe/llama-model/node';
import { MixtralGate } from '@llama-moe/router/modules';
import { compareLogits, openInLlamaCpp } from '@llama-moe/test-support/llama-cpp';
import { buildMoeFromDense } from '../moe/build.js';
import { MoeFeedForward } from '@llama-moe/router/modules';
import { randomPartition } from '../partition/random.js';
import { defaultMoeSpec } from './moe-spec.js';
import { moeFfnGguf } from './gguf.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qwen2moe-gguf-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const V = 384, D = 64, F = 128, L = 2, E = 8;
let tok: Tokenizer;
let moe: LlamaForCausalLM;
beforeAll(() => {
  const tr = trainLlamaTokenizer(sampleTokenizerTexts({ seed: 7, count: 60 }), { vocabSize: V, style: 'llama2', padToVocabSize: true });
  tok = new Tokenizer({ tokenizerJson: tr.tokenizerJson, tokenizerConfig: tr.tokenizerConfig });
  const dense = LlamaForCausalLM.random(parseLlamaConfig({ ...PRESETS.tiny, vocab_size: V, hidden_size: D, intermediate_size: F, num_hidden_layers: L, num_attention_heads: 4, num_key_value_heads: 2, initializer_range: 0.1 }), { seed: 5 });
  const sizes = new Array(E).fill(F / E);
  moe = buildMoeFromDense(dense, { spec: { ...defaultMoeSpec(L, F, E, 2), gateNetwork: 'linear', scoreScaleFactor: 1, sizeExperts: [sizes, sizes] }, format: 'mixtral', partition: [0, 1].map((l) => randomPartition(F, sizes, { seed: 5, layer: l }).experts), gateInit: 'random', seed: 5 });
  for (const Lr of moe.weights.layers) for (const [, t] of (Lr.mlp as MoeFeedForward).gate.namedParameters()) { const d = t.f32(); for (let i = 0; i < d.length; i++) d[i]! *= 20; }
});

/** The routed part of `m` as qwen2moe, plus a one-neuron all-zero shared expert whose gate weights are `shexpGate`. */
function writeQwen2moe(m: LlamaForCausalLM, file: string, shexpGate: Float32Array): void {
  const { metadata, tensors } = llamaGgufParts(m, {
    tokenizer: tok,
    permuteQk: false,
    zeroQkvBias: true,
    ffn: (l, mlp) => {
      const p = `blk.${l}`;
      return {
        tensors: [
          ...moeFfnGguf(l, mlp, F / E).tensors,
          { name: `${p}.ffn_gate_inp_shexp.weight`, shape: [D], data: shexpGate, kind: 'f32' },
          { name: `${p}.ffn_gate_shexp.weight`, shape: [1, D], data: new Float32Array(D), kind: 'matrix' },
          { name: `${p}.ffn_up_shexp.weight`, shape: [1, D], data: new Float32Array(D), kind: 'matrix' },
          { name: `${p}.ffn_down_shexp.weight`, shape: [D, 1], data: new Float32Array(D), kind: 'matrix' },
        ],
      };
    },
    extras: {
      arch: 'qwen2moe',
      keys: [['expert_count', gguf.u32(E)], ['expert_used_count', gguf.u32(2)], ['expert_feed_forward_length', gguf.u32(F / E)], ['expert_shared_feed_forward_length', gguf.u32(1)]],
    },
  });
  writeGguf(file, metadata, tensors);
}

const ids = [1, 7, 99, 300, 42, 5, 200, 17, 8, 250, 3, 77];
const setNorm = (on: boolean) => { for (const Lr of moe.weights.layers) ((Lr.mlp as MoeFeedForward).gate as MixtralGate).cfg.normTopkProb = on; };

describe("llama.cpp's qwen2moe semantics (node-llama-cpp 3.21.1)", () => {
  it('routed experts: softmax top-k NOT renormalised', async () => {
    const file = path.join(tmp, 'routed.gguf');
    writeQwen2moe(moe, file, Float32Array.from({ length: D }, (_, i) => 1e-3 * (1 + (i % 3))));
    const run = await openInLlamaCpp(file);
    try {
      const theirs = await run.logits(ids);
      setNorm(false);
      const unnorm = compareLogits(moe.logits(Int32Array.from(ids)).f32(), theirs, V);
      setNorm(true);
      const norm = compareLogits(moe.logits(Int32Array.from(ids)).f32(), theirs, V);
      console.log(`[qwen2moe] vs unnormalised top-k: ${(unnorm.maxDiff / unnorm.maxAbs).toExponential(2)}; vs renormalised (the project's): ${(norm.maxDiff / norm.maxAbs).toExponential(2)}`);
      expect(unnorm.maxDiff).toBeLessThanOrEqual(1e-4 * unnorm.maxAbs);
      expect(norm.maxDiff).toBeGreaterThan(1e-2 * norm.maxAbs);
    } finally {
      setNorm(true);
      await run.dispose();
    }
  }, 60_000);

  it('shared expert gate: a zero gate gives NaN (silu(g)/g), so sigmoid(0) = 0.5 cannot be used', async () => {
    const file = path.join(tmp, 'zero-gate.gguf');
    writeQwen2moe(moe, file, new Float32Array(D));
    const run = await openInLlamaCpp(file);
    try {
      const rows = await run.logits(ids.slice(0, 3));
      expect(rows.every((r) => r.every((x) => Number.isNaN(x)))).toBe(true);
    } finally {
      await run.dispose();
    }
  }, 60_000);
});
