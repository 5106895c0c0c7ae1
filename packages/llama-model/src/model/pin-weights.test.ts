import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PIN_MAX_FLOATS, getBackendChain, isPinned, lastBackend, setBackend } from '@llama-moe/tensor-core';
import { disposeNativeBackend, initNativeBackend } from '@llama-moe/tensor-core/native';
import { disposeWasmBackend, initWasmBackend } from '@llama-moe/tensor-core/wasm';
import { generate } from './generate.js';
import { LlamaForCausalLM } from './llama.js';
import { presetConfig } from './presets.js';

/** Large enough that the FFN (512×256) and the LM head (2048×256, 2 MiB) are read in place. */
const cfg = () => presetConfig('tiny', { hidden_size: 256, intermediate_size: 512, vocab_size: 2048, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 64, initializer_range: 0.3 });

describe('pinWeights (weights in a WebAssembly arena, decode in place)', () => {
  let native = false;
  const before: string[] = [];
  beforeAll(async () => {
    before.push(...getBackendChain());
    expect((await initWasmBackend({ threads: 2 })).ok).toBe(true);
    native = initNativeBackend({ threads: 2 }).ok;
    setBackend(native ? ['native', 'wasm', 'cpu'] : ['wasm', 'cpu']);
  });
  afterAll(() => {
    disposeNativeBackend();
    disposeWasmBackend();
    setBackend(before);
  });

  it('a pinned model generates the same greedy tokens with the same logits (to f32 rounding) as its unpinned twin', async () => {
    const plain = LlamaForCausalLM.random(cfg(), { seed: 5 });
    const pinned = LlamaForCausalLM.random(cfg(), { seed: 5 });
    const r = await pinned.pinWeights();
    expect(r).not.toBeNull();
    // the sizes that gain move (96 K to 4 M floats: the FFN and the LM head here), the rest stays
    const gain = pinned.parameters().filter((t) => t.size >= 96 * 1024 && t.size <= PIN_MAX_FLOATS);
    expect(gain.length).toBeGreaterThanOrEqual(2 * pinned.config.num_hidden_layers + 1);
    expect(r!.tensors).toBe(gain.length);
    expect(pinned.parameters().map(isPinned)).toEqual(pinned.parameters().map((t) => gain.includes(t)));
    const prompt = [1, 17, 230, 5, 99, 1000, 42];
    const a = generate(plain, prompt, { maxNewTokens: 12, stopTokens: [] });
    const b = generate(pinned, prompt, { maxNewTokens: 12, stopTokens: [] });
    expect(b.tokens).toEqual(a.tokens);
    // the last product of a decode step is the LM head: in place on wasm when pinned
    if (native) expect(lastBackend('matmul')).toBe('wasm');
    // one decode step's logits, cache after the prompt
    const step = (m: LlamaForCausalLM) => {
      const cache = m.newCache(32);
      m.forward(prompt, { cache, lastOnly: true });
      return m.forward([7], { cache }).logits.f32();
    };
    const la = step(plain), lb = step(pinned);
    let worst = 0, scale = 0;
    for (let i = 0; i < la.length; i++) { worst = Math.max(worst, Math.abs(la[i]! - lb[i]!)); scale = Math.max(scale, Math.abs(la[i]!)); }
    expect(worst).toBeLessThan(1e-5 * scale);
    if (native) {
      // unpinned, the 2 MiB LM head stays on native
      step(plain);
      expect(lastBackend('matmul')).toBe('native');
    }
  });
});
