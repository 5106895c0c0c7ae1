/**
 * MoE → Hugging Face qwen2_moe, checked against the independent float64 numpy reference
 * (tools/reference/hf_reference.py, transcribed from transformers' modeling_qwen2_moe.py):
 * logits within 1e-4 · max|logit| for a 2-of-8 Mixtral-style MoE (no shared expert: a zero one),
 * a LLaMA-MoE linear-gate MoE with score scale, unequal experts and two shared experts (zero
 * shared gate, doubled down). An MLP gate is refused with the reason.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LlamaForCausalLM, parseLlamaConfig, PRESETS, readNpy } from '@llama-moe/llama-model/node';
import { buildMoeFromDense } from '../moe/build.js';
import { randomPartition } from '../partition/random.js';
import { defaultMoeSpec } from './moe-spec.js';
import { FormatError } from './mixtral.js';
import { qwen2MoeIncompatibility, saveQwen2Moe } from './qwen2-moe.js';

const REF = path.resolve(__dirname, '../../../../tools/reference/hf_reference.py');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qwen2moe-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const hasNumpy = (() => {
  try {
    execFileSync('python3', ['-c', 'import numpy']);
    return true;
  } catch {
    return false;
  }
})();

const D = 48, F = 96, L = 2, E = 8;
function dense(): LlamaForCausalLM {
  const cfg = parseLlamaConfig({ ...PRESETS.tiny, vocab_size: 96, hidden_size: D, intermediate_size: F, num_hidden_layers: L, num_attention_heads: 4, num_key_value_heads: 2, initializer_range: 0.1, rope_scaling: { rope_type: 'linear', factor: 2 } });
  return LlamaForCausalLM.random(cfg, { seed: 9 });
}
function sharpen(m: LlamaForCausalLM): LlamaForCausalLM {
  for (const Lr of m.weights.layers) for (const [n, t] of Lr.mlp.namedParameters()) if (/gate\.(weight|gate_network)/.test(n)) { const d = t.f32(); for (let i = 0; i < d.length; i++) d[i]! *= 20; }
  return m;
}
function check(m: LlamaForCausalLM, name: string): number {
  const dir = path.join(tmp, name);
  saveQwen2Moe(m, dir);
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  expect(cfg).toMatchObject({ model_type: 'qwen2_moe', architectures: ['Qwen2MoeForCausalLM'], num_experts: E, num_experts_per_tok: 2, norm_topk_prob: true, decoder_sparse_step: 1, mlp_only_layers: [] });
  const ids = [1, 5, 70, 33, 2, 90, 14, 8, 61, 3];
  const out = path.join(dir, 'ref.npy');
  execFileSync('python3', [REF, dir, '--tokens', ids.join(','), '--out', out]);
  const ref = readNpy(out).data as ArrayLike<number>;
  const ours = m.logits(ids).f32();
  let maxRef = 0, maxDiff = 0;
  for (let i = 0; i < ref.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(ref[i]!));
    maxDiff = Math.max(maxDiff, Math.abs(ours[i]! - ref[i]!));
  }
  console.log(`[qwen2_moe ${name}] max|Δ| ${maxDiff.toExponential(2)} of max|logit| ${maxRef.toFixed(3)}`);
  return maxDiff / maxRef;
}

describe.runIf(hasNumpy)('qwen2_moe export matches the float64 reference of transformers\' Qwen2MoE', () => {
  it('2-of-8 Mixtral-style MoE (a zero shared expert)', () => {
    const sizes = new Array(E).fill(F / E);
    const spec = { ...defaultMoeSpec(L, F, E, 2), gateNetwork: 'linear' as const, scoreScaleFactor: 1, sizeExperts: [sizes, sizes] };
    const m = sharpen(buildMoeFromDense(dense(), { spec, format: 'mixtral', partition: [0, 1].map((l) => randomPartition(F, sizes, { seed: 1, layer: l }).experts), gateInit: 'random', seed: 1 }));
    expect(qwen2MoeIncompatibility(m)).toBeNull();
    expect(check(m, 'mixtral')).toBeLessThanOrEqual(1e-4);
  });

  it('LLaMA-MoE linear gate, score scale 4, unequal experts, two shared experts', () => {
    const sizes = [4, 12, 8, 8, 2, 14, 8, 8];
    const parts = [0, 1].map((l) => randomPartition(F, [...sizes, 16, 16], { seed: 3, layer: l }).experts);
    const spec = { ...defaultMoeSpec(L, F, E, 2), gateNetwork: 'linear' as const, gateAddNoise: false, sizeExperts: [sizes, sizes], sizeSharedExperts: [[16, 16], [16, 16]] };
    const m = sharpen(buildMoeFromDense(dense(), { spec, format: 'llama-moe', partition: parts.map((p) => p.slice(0, E)), sharedPartition: parts.map((p) => p.slice(E)), gateInit: 'random', seed: 3 }));
    expect(qwen2MoeIncompatibility(m)).toBeNull();
    expect(check(m, 'shared')).toBeLessThanOrEqual(1e-4);
  });
});

describe('qwen2_moe refusals', () => {
  it('an MLP gate and a dense model are refused with the reason, writing nothing', () => {
    const sizes = new Array(E).fill(F / E);
    const m = buildMoeFromDense(dense(), { spec: { ...defaultMoeSpec(L, F, E, 2), sizeExperts: [sizes, sizes] }, format: 'llama-moe', partition: [0, 1].map((l) => randomPartition(F, sizes, { seed: 1, layer: l }).experts), gateInit: 'random', seed: 1 });
    expect(qwen2MoeIncompatibility(m)).toMatch(/gate_network 'mlp'/);
    expect(() => saveQwen2Moe(m, path.join(tmp, 'refused'))).toThrow(FormatError);
    expect(fs.existsSync(path.join(tmp, 'refused'))).toBe(false);
    expect(qwen2MoeIncompatibility(dense())).toMatch(/dense model/);
  });
});
