/**
 * Parity with an independent float64 reference (tools/reference/hf_reference.py, numpy only,
 * its own safetensors parser) on random checkpoints of many shapes: MHA, GQA, MQA, explicit
 * head_dim, tied and untied heads, biases, rope scaling, f32/bf16/f16 storage, sharded files.
 * Criterion (the issue's): max |ours − ref| ≤ 1e-4 · max |ref logit|.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpy } from '../io/npy.js';
import { parseLlamaConfig } from '../io/config.js';
import { LlamaForCausalLM } from './llama.js';
import { type SaveDType } from './pretrained.js';
import { loadLlama, saveLlama } from './pretrained-files.js';

const REF = resolve(__dirname, '../../../../tools/reference/hf_reference.py');
const work = mkdtempSync(join(tmpdir(), 'llama-parity-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

export function hasNumpy(): boolean {
  try { execFileSync('python3', ['-c', 'import numpy']); return true; } catch { return false; }
}

export function referenceLogits(dir: string, tokens: number[]): Float64Array {
  const out = join(dir, 'ref.npy');
  execFileSync('python3', [REF, dir, '--tokens', tokens.join(','), '--out', out]);
  return Float64Array.from(readNpy(out).data as ArrayLike<number>);
}

export function relErr(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  let maxRef = 0, maxDiff = 0;
  for (let i = 0; i < ref.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(ref[i]!));
    maxDiff = Math.max(maxDiff, Math.abs(ours[i]! - ref[i]!));
  }
  return maxDiff / Math.max(maxRef, 1e-30);
}

let n = 0;
function roundTrip(cfgJson: Record<string, unknown>, seed: number, dtype: SaveDType, shardBytes?: number) {
  const cfg = parseLlamaConfig(cfgJson);
  const m = LlamaForCausalLM.random(cfg, { seed });
  const dir = join(work, `m${n++}`);
  saveLlama(m, dir, { dtype, maxShardBytes: shardBytes });
  return { dir, model: loadLlama(dir) };
}

describe.runIf(hasNumpy())('LlamaForCausalLM matches the float64 reference', () => {
  it('on random configurations (property)', () => {
    fc.assert(fc.property(
      fc.record({
        heads: fc.constantFrom([4, 4], [4, 2], [4, 1], [2, 2], [3, 1]),
        headDim: fc.constantFrom(4, 8, 6),
        explicitHeadDim: fc.boolean(),
        F: fc.integer({ min: 1, max: 40 }),
        L: fc.integer({ min: 1, max: 3 }),
        V: fc.integer({ min: 8, max: 64 }),
        tie: fc.boolean(),
        bias: fc.boolean(),
        mlpBias: fc.boolean(),
        scaling: fc.constantFrom('none', 'linear', 'llama3'),
        theta: fc.constantFrom(10000, 500000),
        dtype: fc.constantFrom<SaveDType>('float32', 'bfloat16', 'float16'),
        shard: fc.boolean(),
        seed: fc.integer({ min: 0, max: 1e6 }),
        T: fc.integer({ min: 1, max: 9 }),
        mistral: fc.boolean(),
      }),
      (r) => {
        const [Hq, Hkv] = r.heads as [number, number];
        const D = r.explicitHeadDim ? Hq * r.headDim + 2 : Hq * r.headDim;
        const cfg: Record<string, unknown> = {
          model_type: r.mistral ? 'mistral' : 'llama', vocab_size: r.V, hidden_size: D, intermediate_size: r.F, num_hidden_layers: r.L,
          num_attention_heads: Hq, num_key_value_heads: Hkv, max_position_embeddings: 64, rms_norm_eps: 1e-5, rope_theta: r.theta,
          tie_word_embeddings: r.tie, attention_bias: r.bias, mlp_bias: r.mlpBias, hidden_act: 'silu', initializer_range: 0.3,
          rope_scaling: r.scaling === 'linear' ? { rope_type: 'linear', factor: 2.0 } : r.scaling === 'llama3' ? { rope_type: 'llama3', factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 16 } : null,
        };
        if (r.explicitHeadDim) cfg.head_dim = r.headDim;
        if (r.mistral) cfg.sliding_window = null;
        const { dir, model } = roundTrip(cfg, r.seed, r.dtype, r.shard ? 4096 : undefined);
        // random biases so the bias paths matter (the init sets them to zero)
        const tokens = Array.from({ length: r.T }, (_, i) => (r.seed + 7 * i) % r.V);
        const ours = model.logits(tokens).f32();
        const ref = referenceLogits(dir, tokens);
        expect(relErr(ours, ref)).toBeLessThanOrEqual(1e-4);
      },
    ), { numRuns: 14 });
  });

  it('with non-zero biases and a sharded bf16 checkpoint', () => {
    const cfg = parseLlamaConfig({ model_type: 'llama', vocab_size: 40, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 32, rms_norm_eps: 1e-6, attention_bias: true, mlp_bias: true, initializer_range: 0.2 });
    const m = LlamaForCausalLM.random(cfg, { seed: 5 });
    for (const [name, t] of m.namedParameters()) if (name.endsWith('.bias')) t.f32().forEach((_, i, a) => { a[i] = Math.sin(i + name.length) * 0.3; });
    const dir = join(work, 'bias');
    saveLlama(m, dir, { dtype: 'bfloat16', maxShardBytes: 2000 });
    const loaded = loadLlama(dir);
    const tokens = [1, 2, 3, 39, 0, 5];
    expect(relErr(loaded.logits(tokens).f32(), referenceLogits(dir, tokens))).toBeLessThanOrEqual(1e-4);
  });
});
