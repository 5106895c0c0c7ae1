import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor, createRng, linear, noGrad, swiglu } from '@llama-moe/tensor-core';
import { LlamaForCausalLM, parseLlamaConfig, saveLlama } from '@llama-moe/llama-model';
import { MoeFeedForward, expertForward } from '../moe/moe-ffn.js';
import { loadMoeModel, PARTITION_FILE } from '../moe/moe-model.js';
import { splitModel } from './split-model.js';

const work = mkdtempSync(join(tmpdir(), 'splitm-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const cfg = parseLlamaConfig({ model_type: 'llama', vocab_size: 40, hidden_size: 16, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, rms_norm_eps: 1e-5, initializer_range: 0.3 });
const dense = LlamaForCausalLM.random(cfg, { seed: 1 });
const denseDir = join(work, 'dense');
saveLlama(dense, denseDir);
const rng = createRng(5);
const sequences = Array.from({ length: 12 }, () => Int32Array.from({ length: 16 }, () => rng.int(40)));

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0, d = 0;
  for (let i = 0; i < b.length; i++) { m = Math.max(m, Math.abs(b[i]!)); d = Math.max(d, Math.abs(a[i]! - b[i]!)); }
  return d / Math.max(m, 1e-30);
}
const ids = [1, 4, 9, 16, 25, 36];

describe('data-driven constructions', () => {
  for (const method of ['graph', 'gradient'] as const) {
    it(`${method}: a disjoint cover — dense-equivalent with top-k = E, zero gates, scale E`, () => {
      const out = join(work, method);
      const r = splitModel({ model: denseDir, out, experts: 4, topK: 4, method, gateInit: 'zeros', scoreScale: 4, calibration: { sequences }, seed: 2 });
      expect(r.streamed).toBe(false);
      const moe = loadMoeModel(out);
      expect(maxRel(moe.logits(ids).f32(), dense.logits(ids).f32())).toBeLessThanOrEqual(1e-5);
      const p = JSON.parse(readFileSync(join(out, PARTITION_FILE), 'utf8'));
      const all = (p.experts as number[][][])[0]!.flat().sort((a, b) => a - b);
      expect(all).toEqual(Array.from({ length: 48 }, (_, i) => i));
    });
  }

  it('sharing-inter: shared (always-on) experts plus routed experts cover every neuron once — dense-equivalent with all routed experts on', () => {
    const out = join(work, 'inter');
    splitModel({ model: denseDir, out, experts: 4, topK: 4, method: 'sharing-inter', sharedSize: 8, gateInit: 'zeros', scoreScale: 4, calibration: { sequences }, seed: 2 });
    const moe = loadMoeModel(out);
    const ffn = moe.weights.layers[0]!.mlp as MoeFeedForward;
    expect(ffn.shared.length).toBe(1);
    expect(ffn.shared[0]!.gate.shape[0]).toBe(8);
    expect(ffn.sizes).toEqual([10, 10, 10, 10]);
    expect(maxRel(moe.logits(ids).f32(), dense.logits(ids).f32())).toBeLessThanOrEqual(1e-5);
    const cfgOut = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(cfgOut.size_shared_experts).toEqual([[8], [8]]);
  });

  it('sharing-inner: experts may overlap; each expert equals the dense FFN restricted to its neurons', () => {
    const out = join(work, 'inner');
    splitModel({ model: denseDir, out, experts: 3, topK: 1, method: 'sharing-inner', calibration: { sequences }, seed: 2 });
    const moe = loadMoeModel(out);
    const parts = JSON.parse(readFileSync(join(out, PARTITION_FILE), 'utf8')).experts as number[][][];
    const d = dense.weights.layers[1]!.mlp as unknown as { gate: Tensor; up: Tensor; down: Tensor };
    const x = new Tensor(Float32Array.from({ length: 5 * 16 }, () => rng.normal()), [5, 16]);
    const h = noGrad(() => swiglu(linear(x, d.gate), linear(x, d.up))).f32();
    const ffn = moe.weights.layers[1]!.mlp as MoeFeedForward;
    parts[1]!.forEach((S, j) => {
      expect(S.length).toBe(16);
      const mask = new Float32Array(5 * 48);
      for (let t = 0; t < 5; t++) for (const i of S) mask[t * 48 + i] = h[t * 48 + i]!;
      const ref = noGrad(() => linear(new Tensor(mask, [5, 48]), d.down)).f32();
      expect(maxRel(noGrad(() => expertForward(ffn.experts[j]!, x)).f32(), ref)).toBeLessThanOrEqual(1e-5);
    });
  });

  it('centroid gate initialisation routes from calibration statistics and rejects a missing --data', () => {
    const out = join(work, 'centroids');
    splitModel({ model: denseDir, out, experts: 4, topK: 2, method: 'random', gateInit: 'centroids', calibration: { sequences }, seed: 2 });
    const moe = loadMoeModel(out);
    const w = moe.namedParameters().find(([n]) => n === 'model.layers.0.mlp.gate.gate_network.0.weight')![1].f32();
    expect(w.some((v) => v !== 0)).toBe(true);
    expect(Number.isFinite(moe.logits(ids).f32()[0]!)).toBe(true);
    expect(() => splitModel({ model: denseDir, out: join(work, 'nodata'), experts: 4, topK: 2, method: 'gradient' })).toThrow(/needs calibration data/);
  });
});
