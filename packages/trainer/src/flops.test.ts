import { describe, expect, it } from 'vitest';
import { presetConfig } from '@llama-moe/llama-model';
import { modelFlopsPerToken, trainingFlopsPerToken } from './flops.js';
import { benchTrainStep } from './bench.js';
import { tinyModel } from '../test/support/fixtures.js';

describe('modelFlopsPerToken', () => {
  it('dense LLaMA-2-7B: 6·N (N ≈ 6.74 B minus the embedding) + 12·L·H·Q·T', () => {
    const c = presetConfig('llama2-7b');
    const f = modelFlopsPerToken(c, { seqLen: 4096 });
    const attn = 4 * 4096 * 4096, ffn = 3 * 4096 * 11008;
    expect(f.activeParams).toBe(32 * (attn + ffn) + 4096 * 32000);
    expect(f.activeParams / 1e9).toBeCloseTo(6.607, 2);
    expect(f.attention).toBe(12 * 32 * 32 * 128 * 4096);
    expect(f.total).toBe(6 * f.activeParams + f.attention);
  });

  it('LLaMA-MoE-3.5B (16 experts, top-4): only the selected experts and the gate count', () => {
    const c = presetConfig('llama2-7b', { model_type: 'llama_moe', num_experts: 16, num_selects: 4, size_experts: null, gate_network: 'mlp' });
    const f = modelFlopsPerToken(c, { seqLen: 2048 });
    // gate network (mlp: D·E + E·E) and the noise network (D·E) of the noisy gate
    const perLayer = 4 * 4096 * 4096 + 4 * 3 * 4096 * (11008 / 16) + 4096 * 16 + 16 * 16 + 4096 * 16;
    expect(f.activeParams).toBe(32 * perLayer + 4096 * 32000);
    // About 3.5 B activated parameters with the embedding, as the model's name says.
    expect((f.activeParams + 4096 * 32000) / 1e9).toBeCloseTo(3.5, 0);
    const sized = modelFlopsPerToken({ ...c, size_experts: Array.from({ length: 32 }, () => [1000, 2000, 3000, 2000]) }, { seqLen: 2048 });
    expect(sized.activeParams - f.activeParams).toBe(32 * 4 * 3 * 4096 * (2000 - 11008 / 16));
    expect(f.activeParams - modelFlopsPerToken({ ...c, gate_add_noise: false }, { seqLen: 2048 }).activeParams).toBe(32 * 4096 * 16);
  });

  it('Mixtral 8×7B (top-2): about 12.9 B active parameters', () => {
    const c = presetConfig('llama2-7b', { model_type: 'mixtral', vocab_size: 32000, intermediate_size: 14336, num_key_value_heads: 8, num_local_experts: 8, num_experts_per_tok: 2 });
    const f = modelFlopsPerToken(c, { seqLen: 4096 });
    const perLayer = 2 * 4096 * 4096 + 2 * 4096 * 1024 + 2 * 3 * 4096 * 14336 + 4096 * 8;
    expect(f.activeParams).toBe(32 * perLayer + 4096 * 32000);
    expect((f.activeParams + 4096 * 32000) / 1e9).toBeCloseTo(12.9, 0);
  });

  it('a model that counts its own modules overrides the config (an MoE built in memory keeps the dense config)', () => {
    const m = tinyModel(1);
    const c = m.config;
    // a dense model: the module count and the config count agree
    expect(trainingFlopsPerToken(m, 64)).toBe(modelFlopsPerToken(c, { seqLen: 64 }).total);
    const fake = { config: c, activeParamsPerToken: () => 1000 };
    expect(trainingFlopsPerToken(fake, 64)).toBe(6 * 1000 + modelFlopsPerToken(c, { seqLen: 64 }).attention);
    expect(trainingFlopsPerToken({ config: c }, 64)).toBe(modelFlopsPerToken(c, { seqLen: 64 }).total);
  });

  it('benchTrainStep reports tokens/s and GFLOP/s consistent with the FLOP count', () => {
    const r = benchTrainStep(tinyModel(1), { batch: 2, seqLen: 16, steps: 2 });
    expect(r.tokensPerSec).toBeGreaterThan(0);
    expect(r.gflopsPerSec).toBeCloseTo((r.tokensPerSec * r.flopsPerToken) / 1e9, 6);
    expect(r.msPerStep).toBeCloseTo((2 * 16 * 1000) / r.tokensPerSec, 6);
    // the median of the timed steps (two: their mean)
    expect(r.stepMs).toHaveLength(2);
    expect(r.msPerStep).toBeCloseTo((r.stepMs[0]! + r.stepMs[1]!) / 2, 9);
    const three = benchTrainStep(tinyModel(1), { batch: 1, seqLen: 8, steps: 3 });
    expect(three.msPerStep).toBe([...three.stepMs].sort((a, b) => a - b)[1]);
  });
});
