import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor, createRng, linear, noGrad, swiglu } from '@llama-moe/tensor-core';
import { LlamaForCausalLM, parseLlamaConfig, saveLlama } from '@llama-moe/llama-model/node';
import { MoeFeedForward, expertForward } from '@llama-moe/router/modules';
import { PARTITION_FILE } from '../moe/partition-file.js';
import { loadMoeModel, mergeExpertsToDense } from '../moe/moe-files.js';
import { readLlamaConfig, loadLlama } from '@llama-moe/llama-model/node';
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

const bitsEqual = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('carve', () => {
  it('shared + routed experts: dense-equivalent with every expert on (zero gates, scale E); merge-experts restores the dense weights bit for bit', () => {
    const out = join(work, 'carve-eq');
    splitModel({ model: denseDir, out, experts: 4, topK: 4, method: 'carve', sharedSize: 8, gateInit: 'zeros', scoreScale: 4, calibration: { sequences }, seed: 2 });
    const moe = loadMoeModel(out);
    const ffn = moe.weights.layers[0]!.mlp as MoeFeedForward;
    expect(ffn.shared[0]!.gate.shape[0]).toBe(8);
    expect(ffn.sizes).toEqual([10, 10, 10, 10]);
    expect(maxRel(moe.logits(ids).f32(), dense.logits(ids).f32())).toBeLessThanOrEqual(1e-5);
    const cfgOut = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(cfgOut).toMatchObject({ model_type: 'llama_moe', gate_network: 'linear', size_shared_experts: [[8], [8]], score_scale_factor: 4 });
    const merged = join(work, 'carve-merged');
    mergeExpertsToDense({ modelDir: out, outDir: merged });
    const back = new Map(loadLlama(merged).namedParameters().map(([k, t]) => [k, t.f32()]));
    for (const [name, t] of dense.namedParameters()) expect(bitsEqual(back.get(name)!, t.f32()), name).toBe(true);
  });

  it('defaults: ridge router (linear gate), score scale k, one shared expert of ⌊F/(E+1)⌋; the fitted router scale and recalibration are reported and recalibration lowers the error', () => {
    const out = join(work, 'carve-default');
    const r = splitModel({ model: denseDir, out, experts: 5, topK: 2, method: 'carve', calibration: { sequences }, seed: 1 });
    const cfgOut = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(cfgOut).toMatchObject({ gate_network: 'linear', num_experts: 5, num_selects: 2, size_shared_experts: [[8], [8]], size_experts: [[8, 8, 8, 8, 8], [8, 8, 8, 8, 8]], score_scale_factor: 2 });
    expect(r.routerFits!.every((f) => f.alpha! > 0 && f.error! < f.denseNorm!)).toBe(true);
    const moe = loadMoeModel(out);
    expect(Number.isFinite(moe.logits(ids).f32()[0]!)).toBe(true);
    const rr = splitModel({ model: denseDir, out: join(work, 'carve-recal'), experts: 5, topK: 2, method: 'carve', recalibrate: true, calibration: { sequences }, seed: 1 });
    rr.routerFits!.forEach((f, l) => {
      expect(f.error).toBeCloseTo(r.routerFits![l]!.error!, 5);
      expect(f.recalibratedError!).toBeLessThanOrEqual(f.error! * (1 + 1e-9));
    });
    // the partition file lists the shared expert too
    const pf = JSON.parse(readFileSync(join(work, 'carve-recal', PARTITION_FILE), 'utf8'));
    expect(pf.method).toBe('carve');
    expect([...pf.experts[1].flat(), ...pf.shared_experts[1].flat()].sort((a: number, b: number) => a - b)).toEqual(Array.from({ length: 48 }, (_, i) => i));
  });

  it('--shared-size 0 exports to Mixtral (linear router, equal experts), and every router init builds', () => {
    const out = join(work, 'carve-mixtral');
    splitModel({ model: denseDir, out, experts: 4, topK: 2, method: 'carve', sharedSize: 0, format: 'mixtral', gateInit: 'representative', calibration: { sequences }, seed: 3 });
    expect(readLlamaConfig(out).model_type).toBe('mixtral');
    expect(Number.isFinite(loadMoeModel(out).logits(ids).f32()[0]!)).toBe(true);
    for (const gateInit of ['centroids', 'kmeans', 'ridge', 'random'] as const) {
      const o = join(work, `carve-${gateInit}`);
      splitModel({ model: denseDir, out: o, experts: 4, topK: 2, method: 'carve', gateInit, calibration: { sequences }, seed: 3 });
      const w = loadMoeModel(o).namedParameters().find(([n]) => n === 'model.layers.1.mlp.gate.gate_network.weight')![1].f32();
      expect(w.some((v) => v !== 0)).toBe(true);
    }
  });

  it('rejects bad options with one line naming the option', () => {
    const base = { model: denseDir, out: join(work, 'bad'), experts: 4, topK: 2, calibration: { sequences } };
    expect(() => splitModel({ ...base, method: 'carve', sharedSize: 46 })).toThrow('--shared-size 46 leaves fewer than 4 neurons of intermediate_size 48 for 4 routed experts');
    expect(() => splitModel({ ...base, method: 'random', recalibrate: true })).toThrow('--recalibrate applies to --method carve only (got --method random)');
    expect(() => splitModel({ ...base, method: 'carve', recalibrate: true, gateInit: 'zeros' })).toThrow(/--recalibrate fits the experts' scales under a router computed from data/);
    expect(() => splitModel({ ...base, method: 'carve', format: 'mixtral' })).toThrow(/Mixtral has no shared experts|size_experts differ/);
    expect(() => splitModel({ ...base, method: 'sharing-inter', sharedSize: 0 })).toThrow('--shared-size must be at least 1 for --method sharing-inter');
    expect(() => splitModel({ ...base, method: 'carve', gateNetwork: 'mlp' })).toThrow('--method carve fits a linear router; --gate-network mlp cannot hold it');
    expect(() => splitModel({ model: denseDir, out: join(work, 'bad2'), experts: 4, topK: 2, method: 'carve' })).toThrow(/needs calibration data/);
  });
});

describe('--gate-init kmeans', () => {
  it('any partition: router rows from k-means of calibration hidden states (unit directions at the N(0, 0.02) row norm)', () => {
    const out = join(work, 'kmeans');
    splitModel({ model: denseDir, out, experts: 4, topK: 2, method: 'random', gateInit: 'kmeans', calibration: { sequences }, seed: 2 });
    const w = loadMoeModel(out).namedParameters().find(([n]) => n === 'model.layers.0.mlp.gate.gate_network.0.weight')![1].f32();
    for (let e = 0; e < 4; e++) expect(Math.hypot(...w.subarray(e * 16, (e + 1) * 16))).toBeCloseTo(0.02 * 4, 5);
    expect(() => splitModel({ model: denseDir, out: join(work, 'km2'), experts: 4, topK: 2, method: 'random', gateInit: 'kmeans' })).toThrow("method 'random' with --gate-init kmeans needs calibration data (--data)");
  });
});

describe('data routers on a paper partition', () => {
  it('a linear gate gets the row scale fitted to the dense output (as carve), an MLP gate the N(0, 0.02) row norm', () => {
    const lin = splitModel({ model: denseDir, out: join(work, 'random-ridge-linear'), experts: 4, topK: 2, method: 'random', gateInit: 'ridge', gateNetwork: 'linear', scoreScale: 2, calibration: { sequences }, seed: 2 });
    expect(lin.routerFits!.every((f) => f.alpha! > 0 && f.error! < f.denseNorm!)).toBe(true);
    const mlp = splitModel({ model: denseDir, out: join(work, 'random-ridge-mlp'), experts: 4, topK: 2, method: 'random', gateInit: 'ridge', calibration: { sequences }, seed: 2 });
    expect(mlp.routerFits!.every((f) => f.alpha === null)).toBe(true);
    // Same ridge directions, different scale: the fitted rows are a multiple of the MLP gate's first layer.
    const row = (dir: string, name: string) => loadMoeModel(join(work, dir)).namedParameters().find(([n]) => n === name)![1].f32();
    const a = row('random-ridge-linear', 'model.layers.0.mlp.gate.gate_network.weight'), b = row('random-ridge-mlp', 'model.layers.0.mlp.gate.gate_network.0.weight');
    const ratio = a[0]! / b[0]!;
    expect(maxRel(a, Float32Array.from(b, (v) => v * ratio))).toBeLessThan(1e-5);
  });
});

describe('drop-upcycle', () => {
  it('each expert is the dense FFN with a seeded fraction R of its neurons re-initialised, different per expert; R = 0 is upcycle', () => {
    const out = join(work, 'drop');
    splitModel({ model: denseDir, out, experts: 3, topK: 1, method: 'drop-upcycle', dropRatio: 0.25, seed: 4 });
    const moe = loadMoeModel(out);
    const d = dense.weights.layers[1]!.mlp as unknown as { gate: Tensor; up: Tensor; down: Tensor };
    const g = d.gate.f32();
    const ffn = moe.weights.layers[1]!.mlp as MoeFeedForward;
    const droppedSets = ffn.experts.map((e) => {
      const eg = e.gate.f32();
      const dropped: number[] = [];
      for (let i = 0; i < 48; i++) if (!bitsEqual(eg.subarray(i * 16, (i + 1) * 16), g.subarray(i * 16, (i + 1) * 16))) dropped.push(i);
      return dropped;
    });
    for (const s of droppedSets) expect(s.length).toBe(12);
    expect(new Set(droppedSets.map((s) => s.join(','))).size).toBe(3);
    const pf = JSON.parse(readFileSync(join(out, PARTITION_FILE), 'utf8'));
    expect(pf.experts).toBeNull();
    // seeded
    splitModel({ model: denseDir, out: join(work, 'drop2'), experts: 3, topK: 1, method: 'drop-upcycle', dropRatio: 0.25, seed: 4 });
    const again = loadMoeModel(join(work, 'drop2')).weights.layers[1]!.mlp as MoeFeedForward;
    expect(bitsEqual(again.experts[2]!.down.f32(), ffn.experts[2]!.down.f32())).toBe(true);
    // R = 0: every expert equals the dense FFN, so top-1 with scale 1 reproduces the dense model
    splitModel({ model: denseDir, out: join(work, 'drop0'), experts: 3, topK: 1, method: 'drop-upcycle', dropRatio: 0, scoreScale: 1, seed: 4 });
    expect(maxRel(loadMoeModel(join(work, 'drop0')).logits(ids).f32(), dense.logits(ids).f32())).toBeLessThanOrEqual(1e-5);
    expect(() => splitModel({ model: denseDir, out: join(work, 'drop3'), experts: 3, topK: 1, method: 'drop-upcycle', dropRatio: 1.5 })).toThrow('--drop-ratio must be in [0, 1], got 1.5');
    expect(() => splitModel({ model: denseDir, out: join(work, 'drop4'), experts: 3, topK: 1, method: 'random', dropRatio: 0.5 })).toThrow('--drop-ratio applies to --method drop-upcycle only (got --method random)');
  });
});
