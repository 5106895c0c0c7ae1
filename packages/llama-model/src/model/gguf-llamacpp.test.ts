/**
 * Dense LLaMA → GGUF, run in a real llama.cpp (node-llama-cpp 3.21.1, CPU, f32 KV cache) and
 * compared with this project's own forward:
 * - F32: logits within 1e-4 · max|logit| on every position, 32 greedy tokens identical
 *   (MHA and GQA, tied and untied heads, attention biases, linear and Llama-3.1 RoPE scaling,
 *   an explicit head_dim);
 * - F16 / BF16: argmax agreement 100 % on 256 positions; Q8_0: ≥ 95 %;
 * - the file read back by the project's GGUF reader: tensors bit-identical (F32), Q/K permuted.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bf16ToF32, createRng, f16ToF32, f32ToBf16, f32ToF16 } from '@llama-moe/tensor-core';
import { parseLlamaConfig } from '../io/config.js';
import { GgufFile } from '../io/gguf-reader.js';
import { compareLogits, openInLlamaCpp } from '@llama-moe/test-support/llama-cpp';
import { sampleTokenizerTexts } from '../tokenizer/sample-text.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { trainLlamaTokenizer } from '../tokenizer/train.js';
import { generate } from './generate.js';
import { permuteQkRows, writeCheckpointGguf, writeLlamaGguf, type GgufOutType } from './gguf-export.js';
import { loadLlama, saveLlama } from './pretrained-files.js';
import { openCheckpoint } from '../io/checkpoint.js';
import { loadLlamaGguf } from './gguf-import.js';
import { LlamaForCausalLM } from './llama.js';
import { PRESETS } from './presets.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gguf-llamacpp-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const V = 384;
let tok: Tokenizer;
beforeAll(() => {
  const tr = trainLlamaTokenizer(sampleTokenizerTexts({ seed: 7, count: 60 }), { vocabSize: V, style: 'llama2', padToVocabSize: true });
  tok = new Tokenizer({ tokenizerJson: tr.tokenizerJson, tokenizerConfig: tr.tokenizerConfig });
});

function model(over: Record<string, unknown>, seed: number): LlamaForCausalLM {
  const cfg = parseLlamaConfig({ ...PRESETS.tiny, vocab_size: V, hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2, initializer_range: 0.1, max_position_embeddings: 512, ...over });
  const m = LlamaForCausalLM.random(cfg, { seed });
  const rng = createRng(seed + 1);
  // Norm weights and biases away from their init values, so a mix-up shows.
  for (const [, t] of m.namedParameters()) {
    if (t.shape.length === 1) for (let i = 0; i < t.size; i++) (t.data as Float32Array)[i] = 1 + 0.3 * rng.normal();
  }
  for (const L of m.weights.layers) if (L.attn.bias) for (const b of Object.values(L.attn.bias)) for (let i = 0; i < b.size; i++) (b.data as Float32Array)[i] = 0.2 * rng.normal();
  return m;
}

function tokens(n: number, seed: number): number[] {
  const rng = createRng(seed);
  return [1, ...Array.from({ length: n - 1 }, () => 3 + Math.floor(rng.uniform() * (V - 3)))];
}

const CASES: Array<[string, Record<string, unknown>]> = [
  ['MHA, untied', { num_attention_heads: 4, num_key_value_heads: 4 }],
  ['GQA 4/2, tied, linear RoPE x2', { num_attention_heads: 4, num_key_value_heads: 2, tie_word_embeddings: true, rope_scaling: { rope_type: 'linear', factor: 2 } }],
  ['MQA 4/1, Llama-3.1 RoPE, rope_theta 5e5', { num_attention_heads: 4, num_key_value_heads: 1, rope_theta: 500000, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 32 } }],
  ['explicit head_dim 32 with 4 heads, attention biases', { num_attention_heads: 4, num_key_value_heads: 2, head_dim: 32, attention_bias: true }],
];

describe('dense LLaMA GGUF in llama.cpp', () => {
  CASES.forEach(([label, over], ci) => {
    it(`F32 ${label}: logits within 1e-4·max|logit|, 32 greedy tokens identical`, async () => {
      const m = model(over, 10 + ci);
      const file = path.join(tmp, `dense${ci}.gguf`);
      writeLlamaGguf(m, file, { tokenizer: tok, outtype: 'f32' });
      const run = await openInLlamaCpp(file);
      try {
        const ids = tokens(64, ci);
        const ours = m.logits(Int32Array.from(ids)).data as Float32Array;
        const r = compareLogits(ours, await run.logits(ids), V);
        console.log(`[gguf dense ${label}] max|Δlogit| ${r.maxDiff.toExponential(2)}, max|logit| ${r.maxAbs.toFixed(3)}, ratio ${(r.maxDiff / r.maxAbs).toExponential(2)}`);
        expect(r.maxDiff).toBeLessThanOrEqual(1e-4 * r.maxAbs);
        const prompt = ids.slice(0, 5);
        const mine = generate(m, prompt, { maxNewTokens: 32, temperature: 0, stopTokens: [] }).tokens;
        expect(await run.greedy(prompt, 32)).toEqual(mine);
      } finally {
        await run.dispose();
      }
    }, 60_000);
  });

  it('the written file holds Q/K rows permuted for llama.cpp and every other tensor bit for bit', () => {
    const m = model({ num_attention_heads: 4, num_key_value_heads: 2 }, 3);
    const file = path.join(tmp, 'readback.gguf');
    writeLlamaGguf(m, file, { tokenizer: tok, outtype: 'f32' });
    const g = GgufFile.open(file);
    try {
      const L = m.weights.layers[1]!;
      expect(g.readF32('blk.1.attn_q.weight')).toEqual(permuteQkRows(L.attn.q.data as Float32Array, 4, 64));
      expect(g.readF32('blk.1.attn_k.weight')).toEqual(permuteQkRows(L.attn.k.data as Float32Array, 2, 64));
      // Row 1 of head 0 after the permutation is row hd/2 = 8 of the HF weight.
      expect(g.readF32('blk.1.attn_k.weight').subarray(64, 128)).toEqual((L.attn.k.data as Float32Array).subarray(8 * 64, 9 * 64));
      expect(g.readF32('blk.1.ffn_down.weight')).toEqual(L.mlp.namedParameters()[2]![1].data);
      expect(g.info('blk.1.ffn_down.weight').ne).toEqual([96, 64]);
      expect(g.readF32('output.weight')).toEqual(m.weights.lmHead.data);
      expect(g.metadataJs()).toMatchObject({ 'general.architecture': 'llama', 'llama.attention.head_count_kv': 2, 'llama.block_count': 2, 'tokenizer.ggml.model': 'llama', 'tokenizer.ggml.bos_token_id': 1 });
      expect((g.metadataJs()['tokenizer.ggml.tokens'] as string[]).length).toBe(V);
    } finally {
      g.close();
    }
  });

  it('read back by the project (loadLlamaGguf): F32 bit-identical, F16 / BF16 equal to the rounded weights, same config', () => {
    const m = model({ num_attention_heads: 4, num_key_value_heads: 2, attention_bias: true, rope_scaling: { rope_type: 'linear', factor: 2 } }, 8);
    for (const [outtype, round] of [['f32', (x: Float32Array) => x], ['f16', (x: Float32Array) => f16ToF32(f32ToF16(x))], ['bf16', (x: Float32Array) => bf16ToF32(f32ToBf16(x))]] as const) {
      const file = path.join(tmp, `back-${outtype}.gguf`);
      writeLlamaGguf(m, file, { tokenizer: tok, outtype });
      const back = loadLlamaGguf(file);
      expect(back.config).toMatchObject({ num_key_value_heads: 2, attention_bias: true, rope_scaling: { rope_type: 'linear', factor: 2 }, tie_word_embeddings: false, vocab_size: V });
      // float32 metadata read back as the decimal it was written from (1e-5, not 9.99999974e-6), so the
      // model normalises with the config's epsilon and its logits equal the folder model's bit for bit
      expect([back.config.rms_norm_eps, back.config.rope_theta]).toEqual([m.config.rms_norm_eps, m.config.rope_theta]);
      const mine = new Map(m.namedParameters());
      for (const [n, t] of back.namedParameters()) {
        const orig = mine.get(n)!.f32();
        expect(t.f32(), `${outtype} ${n}`).toEqual(t.shape.length === 1 ? orig : round(orig));
      }
    }
  });

  it('streaming from a checkpoint folder (one tensor at a time) writes the same bytes as from the loaded model', () => {
    const m = model({ num_attention_heads: 4, num_key_value_heads: 2, tie_word_embeddings: true, attention_bias: true }, 12);
    const dir = path.join(tmp, 'ckpt');
    saveLlama(m, dir, { dtype: 'bfloat16' });
    const loaded = loadLlama(dir);
    const ck = openCheckpoint(dir);
    try {
      for (const outtype of ['f32', 'q8_0'] as const) {
        const a = path.join(tmp, `mem-${outtype}.gguf`), b = path.join(tmp, `ck-${outtype}.gguf`);
        writeLlamaGguf(loaded, a, { tokenizer: tok, outtype });
        writeCheckpointGguf(ck, loaded.config, b, { tokenizer: tok, outtype });
        expect(fs.readFileSync(b).equals(fs.readFileSync(a)), outtype).toBe(true);
      }
    } finally {
      ck.close();
    }
  });

  // [type, argmax agreement needed, bound on max|Δlogit| / max|logit| (measured: 1.9e-4, 1.3e-3, 6.6e-3)]
  const LOW: Array<[GgufOutType, number, number]> = [['f16', 1, 1e-3], ['bf16', 1, 5e-3], ['q8_0', 0.95, 2e-2]];
  for (const [outtype, need, rel] of LOW) {
    it(`${outtype}: argmax agreement ≥ ${need * 100} % on 256 positions`, async () => {
      // Tied embeddings 10x larger than the other weights: every layer still contributes, but
      // the next-token margins are not the razor-thin ones of a random untrained head, where any
      // rounding of activations (llama.cpp rounds them to the weight type before each matmul)
      // flips near-ties. The F32 tests above check the math exactly; these check the encodings.
      const m = model({ num_attention_heads: 4, num_key_value_heads: 2, initializer_range: 0.1, tie_word_embeddings: true }, 42);
      const e = m.weights.embed.data as Float32Array;
      for (let i = 0; i < e.length; i++) e[i]! *= 10;
      const file = path.join(tmp, `low-${outtype}.gguf`);
      writeLlamaGguf(m, file, { tokenizer: tok, outtype });
      const run = await openInLlamaCpp(file, { contextSize: 512 });
      try {
        const ids = tokens(256, 99);
        // The project's forward on the weights as stored in the file (rounded / quantized), read back.
        const stored = loadLlamaGguf(file);
        const ours = stored.logits(Int32Array.from(ids)).data as Float32Array;
        const r = compareLogits(ours, await run.logits(ids), V);
        console.log(`[gguf ${outtype}] argmax agreement ${(r.argmaxAgree * 100).toFixed(1)} %, max|Δlogit| ${r.maxDiff.toExponential(2)} of max|logit| ${r.maxAbs.toFixed(2)}`);
        expect(r.argmaxAgree).toBeGreaterThanOrEqual(need);
        expect(r.maxDiff).toBeLessThanOrEqual(rel * r.maxAbs);
      } finally {
        await run.dispose();
      }
    }, 120_000);
  }
});
