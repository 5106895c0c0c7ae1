/**
 * An MoE's decode step on pinned weights (model.pinWeights()): each MoE layer sends the token's
 * routed and shared experts to the `swigluExperts` kernel, which reads them in place in the
 * weight arena; the tokens and logits are those of the unpinned twin, which takes the general path.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBackendChain, isPinned, kernelCounts, lastBackend, resetKernelCounts, setBackend } from '@llama-moe/tensor-core';
import type { MoeFeedForward } from '@llama-moe/router/modules';
import { disposeWasmBackend, initWasmBackend } from '@llama-moe/tensor-core/wasm';
import { LlamaForCausalLM, PRESETS, generate, parseLlamaConfig } from '@llama-moe/llama-model/node';
import { buildMoeFromDense } from './build.js';
import { randomPartition } from '../partition/random.js';
import { defaultMoeSpec } from '../formats/moe-spec.js';

const D = 64, F = 128, L = 2, E = 8, K = 2;
const cfg = parseLlamaConfig({ ...PRESETS.tiny, vocab_size: 384, hidden_size: D, intermediate_size: F, num_hidden_layers: L, num_attention_heads: 4, num_key_value_heads: 2, initializer_range: 0.1 });

/** 8 routed experts of 12 neurons and 2 shared of 16, noise-free top-2, LLaMA-MoE score scale 4. */
function moe(): LlamaForCausalLM {
  const dense = LlamaForCausalLM.random(cfg, { seed: 5 });
  const sizes = new Array<number>(E).fill(12);
  const parts = Array.from({ length: L }, (_, l) => randomPartition(F, [...sizes, 16, 16], { seed: 5, layer: l }).experts);
  const spec = { ...defaultMoeSpec(L, F, E, K), gateNetwork: 'linear' as const, gateAddNoise: false, scoreScaleFactor: 4, sizeExperts: Array.from({ length: L }, () => sizes), sizeSharedExperts: Array.from({ length: L }, () => [16, 16]) };
  const m = buildMoeFromDense(dense, { spec, format: 'llama-moe', partition: parts.map((p) => p.slice(0, E)), sharedPartition: parts.map((p) => p.slice(E)), gateInit: 'random', seed: 5, method: 'sharing-inter' });
  // gate logits large enough that no two experts tie within float rounding
  for (const [n, t] of m.namedParameters()) if (n.includes('gate_network')) { const d = t.f32(); for (let i = 0; i < d.length; i++) d[i]! *= 20; }
  return m;
}

describe('MoE decode on pinned weights (swigluExperts)', () => {
  const before: string[] = [];
  beforeAll(async () => {
    before.push(...getBackendChain());
    expect((await initWasmBackend({ threads: 2 })).ok).toBe(true);
    setBackend(['wasm', 'cpu']);
  });
  afterAll(() => {
    disposeWasmBackend();
    setBackend(before);
  });

  it('same greedy tokens and logits (to f32 rounding) as the unpinned twin; the experts run in one kernel call per layer and token', async () => {
    const plain = moe(), pinned = moe();
    // this test's experts are far below pinWeights' default minimum; at 1000 floats the shared
    // experts (16×64) reach it and the routed ones (12×64) do not: the group is pinned whole
    expect((await pinned.pinWeights({ minFloats: 1000, threads: 2 }))!.tensors).toBeGreaterThan(0);
    const layer0 = pinned.weights.layers[0]!.mlp as unknown as MoeFeedForward;
    expect(layer0.groupedWeights().every(isPinned)).toBe(true);
    expect(layer0.gate.namedParameters().some(([, t]) => isPinned(t))).toBe(false);
    // a model whose experts are all small keeps them where they are
    const small = moe();
    await small.pinWeights({ threads: 2 });
    expect((small.weights.layers[0]!.mlp as unknown as MoeFeedForward).groupedWeights().some(isPinned)).toBe(false);
    const prompt = [1, 17, 230, 5, 99, 100, 42];
    const a = generate(plain, prompt, { maxNewTokens: 12, stopTokens: [] });
    resetKernelCounts();
    const b = generate(pinned, prompt, { maxNewTokens: 12, stopTokens: [] });
    expect(b.tokens).toEqual(a.tokens);
    // 11 one-token steps (the first token comes from the prefill) × L layers
    expect(kernelCounts()['swigluExperts/wasm']).toBe(11 * L);
    const step = (m: LlamaForCausalLM) => {
      const cache = m.newCache(32);
      m.forward(prompt, { cache, lastOnly: true });
      return m.forward([7], { cache }).logits.f32();
    };
    resetKernelCounts();
    const la = step(plain);
    expect(kernelCounts()['swigluExperts/wasm'] ?? 0).toBe(0);
    const lb = step(pinned);
    expect(lastBackend('swigluExperts')).toBe('wasm');
    let worst = 0, scale = 0;
    for (let i = 0; i < la.length; i++) { worst = Math.max(worst, Math.abs(la[i]! - lb[i]!)); scale = Math.max(scale, Math.abs(la[i]!)); }
    expect(worst).toBeLessThan(1e-5 * scale);
  });
});
