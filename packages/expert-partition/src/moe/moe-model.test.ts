/**
 * The core properties of dense → MoE construction:
 *  1. every expert on with unit weights sums back to the dense FFN (any D, F, E, sizes, partition);
 *  2. top-k = E, zero gates and score scale E reproduce the dense model's logits, in both formats
 *     (through save → load, so names and config keys are exercised);
 *  3. both formats match the independent float64 reference (tools/reference/hf_reference.py);
 *  4. split → merge-experts returns the original weights bit for bit.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor, createRng, lastBackend, noGrad, withBackend } from '@llama-moe/tensor-core';
import { disposeWasmBackend, initWasmBackend } from '@llama-moe/tensor-core/wasm';
import { DenseFeedForward, LlamaForCausalLM, parseLlamaConfig, readNpy, readLlamaConfig } from '@llama-moe/llama-model/node';
import { defaultMoeSpec, type MoeSpec } from '../formats/moe-spec.js';
import { expertForward } from '@llama-moe/router/modules';
import { loadMoeModel, saveMoeModel } from './moe-files.js';
import { buildMoeFromDense, dropUpcycleExpert } from './build.js';
import { expertsFromDense, takeCols, takeColsMany, takeColsManyJs } from './gather.js';
import { mergeExperts } from './merge.js';
import { PARTITION_FILE } from './partition-file.js';
import { type MoeFormat } from './moe-config.js';

const work = mkdtempSync(join(tmpdir(), 'moe-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
const REF = resolve(__dirname, '../../../../tools/reference/hf_reference.py');
const hasNumpy = (() => { try { execFileSync('python3', ['-c', 'import numpy']); return true; } catch { return false; } })();

function randomPartition(F: number, sizes: number[], seed: number): number[][] {
  const r = createRng(seed);
  const perm = Array.from({ length: F }, (_, i) => i);
  for (let i = F - 1; i > 0; i--) { const j = r.int(i + 1); [perm[i], perm[j]] = [perm[j]!, perm[i]!]; }
  let o = 0;
  return sizes.map((s) => perm.slice(o, (o += s)).sort((a, b) => a - b));
}

/** Split F into E positive sizes (unequal) deterministically from a seed. */
function randomSizes(F: number, E: number, seed: number): number[] {
  const r = createRng(seed);
  const cuts = new Set<number>();
  while (cuts.size < E - 1) cuts.add(1 + r.int(F - 1));
  const c = [0, ...[...cuts].sort((a, b) => a - b), F];
  return c.slice(1).map((v, i) => v - c[i]!);
}

function tinyDense(seed: number, over: Record<string, unknown> = {}) {
  return LlamaForCausalLM.random(parseLlamaConfig({
    model_type: 'llama', vocab_size: 48, hidden_size: 12, intermediate_size: 30, num_hidden_layers: 2, num_attention_heads: 3, num_key_value_heads: 1,
    max_position_embeddings: 32, rms_norm_eps: 1e-5, initializer_range: 0.3, ...over,
  }), { seed });
}

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0, d = 0;
  for (let i = 0; i < b.length; i++) { m = Math.max(m, Math.abs(b[i]!)); d = Math.max(d, Math.abs(a[i]! - b[i]!)); }
  return d / Math.max(m, 1e-30);
}

describe('experts sum back to the dense FFN', () => {
  it('for any D, F, E, unequal sizes and partition (unit weights, ≤ 1e-5 relative)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 6 }), fc.nat(), (D, F0, E0, T, seed) => {
      const E = Math.min(E0, F0), F = F0;
      const r = createRng(seed);
      const mk = (s: number[]) => new Tensor(Float32Array.from({ length: s[0]! * s[1]! }, () => r.normal()), s);
      const gate = mk([F, D]), up = mk([F, D]), down = mk([D, F]), x = mk([T, D]);
      const dense = noGrad(() => new DenseFeedForward(gate, up, down).forward(x)).f32();
      const parts = randomPartition(F, randomSizes(F, E, seed + 1), seed + 2);
      const experts = expertsFromDense(gate.f32(), up.f32(), down.f32(), D, F, parts);
      const sum = new Float64Array(T * D);
      for (const e of experts) noGrad(() => expertForward(e, x)).f32().forEach((v, i) => { sum[i]! += v; });
      expect(maxRel(sum, dense)).toBeLessThanOrEqual(1e-5);
    }), { numRuns: 150 });
  });
});

function denseEquivalentSpec(dense: LlamaForCausalLM, E: number, sizes: number[], format: MoeFormat): MoeSpec {
  const L = dense.config.num_hidden_layers;
  const spec = defaultMoeSpec(L, dense.config.intermediate_size, E, E);
  return { ...spec, sizeExperts: Array.from({ length: L }, () => sizes), scoreScaleFactor: E, gateNetwork: format === 'mixtral' ? 'linear' : 'mlp' };
}

describe('top-k = E, zero gates, score scale E reproduce the dense model', () => {
  for (const format of ['llama-moe', 'mixtral'] as const) {
    it(`${format}: logits equal the dense model's after save → load`, () => {
      fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.nat(), fc.boolean(), (E, seed, equal) => {
        const dense = tinyDense(seed);
        const F = dense.config.intermediate_size;
        const sizes = format === 'mixtral' || equal ? (F % E === 0 ? new Array<number>(E).fill(F / E) : null) : randomSizes(F, E, seed);
        if (!sizes) return;
        const spec = denseEquivalentSpec(dense, E, sizes, format);
        const partition = Array.from({ length: 2 }, (_, l) => randomPartition(F, sizes, seed + l));
        const moe = buildMoeFromDense(dense, { spec, format, partition, gateInit: 'zeros', seed });
        const dir = join(work, `eq${n++}`);
        saveMoeModel(moe, dir);
        const loaded = loadMoeModel(dir);
        const ids = [1, 7, 3, 40, 2];
        expect(maxRel(loaded.logits(ids).f32(), dense.logits(ids).f32())).toBeLessThanOrEqual(1e-5);
      }), { numRuns: 12 });
    });
  }
});

describe.runIf(hasNumpy)('MoE formats match the float64 reference', () => {
  const cases: [MoeFormat, string, 'mlp' | 'linear'][] = [['llama-moe', 'random', 'mlp'], ['llama-moe', 'random', 'linear'], ['mixtral', 'random', 'linear']];
  for (const [format, init, net] of cases) {
    it(`${format} (${net} gate, ${init} init, top-2 of 3 with unequal sizes where allowed)`, () => {
      const dense = tinyDense(5);
      const F = dense.config.intermediate_size;
      const sizes = format === 'mixtral' ? [10, 10, 10] : [7, 15, 8];
      const spec: MoeSpec = { ...defaultMoeSpec(2, F, 3, 2), sizeExperts: [sizes, sizes], gateNetwork: net };
      const moe = buildMoeFromDense(dense, { spec, format, partition: [randomPartition(F, sizes, 1), randomPartition(F, sizes, 2)], gateInit: 'random', seed: 3, method: 'random' });
      // Larger gate weights so routing actually differs between tokens.
      for (const [name, t] of moe.namedParameters()) if (/gate\.(gate_network|weight)/.test(name)) t.f32().forEach((_, i, a) => { a[i]! *= 40; });
      const dir = join(work, `ref${n++}`);
      saveMoeModel(moe, dir, { dtype: 'bfloat16', maxShardBytes: 3000 });
      const loaded = loadMoeModel(dir);
      const ids = [3, 1, 4, 1, 5, 9, 2, 6];
      const out = join(dir, 'ref.npy');
      execFileSync('python3', [REF, dir, '--tokens', ids.join(','), '--out', out]);
      const ref = readNpy(out).data as Float64Array;
      expect(maxRel(loaded.logits(ids).f32(), ref)).toBeLessThanOrEqual(1e-4);
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      if (format === 'mixtral') {
        expect(cfg).toMatchObject({ model_type: 'mixtral', architectures: ['MixtralForCausalLM'], num_local_experts: 3, num_experts_per_tok: 2, intermediate_size: 10 });
      } else {
        expect(cfg).toMatchObject({ model_type: 'llama_moe', architectures: ['LlamaMoEForCausalLM'], num_experts: 3, num_selects: 2, size_experts: [sizes, sizes], gate_type: 'TopKBalancedNoisyGate', gate_network: net, calculator_type: 'UniversalCalculator', score_scale_factor: 1.5 });
        for (const k of ['gate_use_softmax', 'gate_use_balance', 'gate_balance_loss_weight', 'gate_add_noise', 'gate_noise_epsilon', 'multiply_gate_scores', 'add_weight_norm', 'drop_tokens', 'dropped_padding', 'capacity_factor']) expect(cfg).toHaveProperty(k);
      }
    });
  }
});

describe.runIf(hasNumpy)('a carved model (linear gate, shared expert, fitted router scale) matches the float64 reference', () => {
  it('llama-moe with size_shared_experts, top-2 of 3', () => {
    const dense = tinyDense(6);
    const F = dense.config.intermediate_size;
    const [shared, ...routed] = randomPartition(F, [6, 8, 8, 8], 4);
    const spec: MoeSpec = { ...defaultMoeSpec(2, F, 3, 2), sizeExperts: [[8, 8, 8], [8, 8, 8]], gateNetwork: 'linear', scoreScaleFactor: 2, sizeSharedExperts: [[6], [6]] };
    const moe = buildMoeFromDense(dense, { spec, format: 'llama-moe', partition: [routed, routed], sharedPartition: [[shared!], [shared!]], gateInit: 'random', seed: 3, method: 'carve' });
    for (const [name, t] of moe.namedParameters()) if (/gate\.gate_network/.test(name)) t.f32().forEach((_, i, a) => { a[i]! *= 40; });
    const dir = join(work, `refc${n++}`);
    saveMoeModel(moe, dir);
    const ids = [3, 1, 4, 1, 5, 9, 2, 6];
    const out = join(dir, 'ref.npy');
    execFileSync('python3', [REF, dir, '--tokens', ids.join(','), '--out', out]);
    expect(maxRel(loadMoeModel(dir).logits(ids).f32(), readNpy(out).data as Float64Array)).toBeLessThanOrEqual(1e-4);
  });
});

describe('activeParamsPerToken', () => {
  it('counts attention, the gate, k routed experts of mean size and the LM head, as the saved config does', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.nat(), fc.constantFrom<MoeFormat>('llama-moe', 'mixtral'), fc.constantFrom<'mlp' | 'linear'>('mlp', 'linear'), (E, seed, format, gateNetwork) => {
      const dense = tinyDense(seed);
      const c = dense.config;
      const D = c.hidden_size, F = c.intermediate_size, hd = c.head_dim;
      const sizes = format === 'mixtral' ? (F % E === 0 ? new Array<number>(E).fill(F / E) : null) : randomSizes(F, E, seed);
      if (!sizes) return;
      const k = 1 + (seed % E);
      const spec: MoeSpec = { ...defaultMoeSpec(2, F, E, k), sizeExperts: [sizes, sizes], gateNetwork: format === 'mixtral' ? 'linear' : gateNetwork };
      const moe = buildMoeFromDense(dense, { spec, format, partition: [randomPartition(F, sizes, seed), randomPartition(F, sizes, seed + 1)], gateInit: 'random', seed, method: 'random' });
      const attn = D * hd * (2 * c.num_attention_heads + 2 * c.num_key_value_heads);
      const gate = format === 'mixtral' ? D * E : D * E + (spec.gateNetwork === 'mlp' ? E * E : 0) + D * E; // + the noise network
      const perLayer = attn + gate + (k * 3 * D * F) / E;
      expect(moe.activeParamsPerToken()).toBeCloseTo(2 * perLayer + c.vocab_size * D, 6);
      // the dense model it came from counts every neuron; the MoE k/E of them
      expect(dense.activeParamsPerToken()).toBe(2 * (attn + 3 * D * F) + c.vocab_size * D);
      // loaded back from disk (config now llama_moe / mixtral), the count is the same
      const dir = join(work, `ap${n++}`);
      saveMoeModel(moe, dir);
      expect(loadMoeModel(dir).activeParamsPerToken()).toBeCloseTo(moe.activeParamsPerToken(), 6);
    }), { numRuns: 12 });
  });
});

describe('split → merge-experts', () => {
  it('returns the original dense weights bit for bit (property over partitions and sizes)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 7 }), fc.nat(), fc.constantFrom<MoeFormat>('llama-moe', 'mixtral'), (E, seed, format) => {
      const dense = tinyDense(seed);
      const F = dense.config.intermediate_size;
      const sizes = format === 'mixtral' ? (F % E === 0 ? new Array<number>(E).fill(F / E) : null) : randomSizes(F, E, seed);
      if (!sizes) return;
      // A power-of-two score scale: Mixtral folds it into w2, and merging divides it out exactly.
      const spec: MoeSpec = { ...defaultMoeSpec(2, F, E, 1), sizeExperts: [sizes, sizes], gateNetwork: format === 'mixtral' ? 'linear' : 'mlp', scoreScaleFactor: format === 'mixtral' ? 4 : 2.5 };
      const partition = [randomPartition(F, sizes, seed), randomPartition(F, sizes, seed + 9)];
      const moe = buildMoeFromDense(dense, { spec, format, partition, gateInit: 'random', seed, method: 'random' });
      const dir = join(work, `mg${n++}`);
      saveMoeModel(moe, dir);
      const pf = JSON.parse(readFileSync(join(dir, PARTITION_FILE), 'utf8'));
      const merged = mergeExperts(loadMoeModel(dir), pf.experts as number[][][], pf.folded_score_scale);
      const orig = new Map(dense.namedParameters().map(([k, t]) => [k, t.f32()]));
      for (const [name, t] of merged.namedParameters()) {
        const o = orig.get(name);
        expect(o, name).toBeDefined();
        expect(Buffer.from(t.f32().buffer).equals(Buffer.from(o!.buffer)), name).toBe(true);
      }
      expect(readLlamaConfig(dir).model_type).toBe(format === 'mixtral' ? 'mixtral' : 'llama_moe');
    }), { numRuns: 10 });
  });
});

describe('split with a shared expert (carve, sharing-inter) → merge-experts', () => {
  it('routed + shared experts go back to their neuron ids bit for bit (property over partitions and shared sizes)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 12 }), fc.nat(), (E, S, seed) => {
      const dense = tinyDense(seed);
      const F = dense.config.intermediate_size;
      const all = randomPartition(F, [S, F - S], seed);
      const rest = all[1]!;
      const sizes = randomSizes(F - S, Math.min(E, F - S), seed + 3);
      const perm = randomPartition(F - S, sizes, seed + 4).map((p) => p.map((i) => rest[i]!).sort((a, b) => a - b));
      const spec: MoeSpec = { ...defaultMoeSpec(2, F, sizes.length, 1), sizeExperts: [sizes, sizes], gateNetwork: 'linear', scoreScaleFactor: 3, sizeSharedExperts: [[S], [S]] };
      const moe = buildMoeFromDense(dense, { spec, format: 'llama-moe', partition: [perm, perm], sharedPartition: [[all[0]!], [all[0]!]], gateInit: 'random', seed, method: 'carve' });
      const dir = join(work, `mgs${n++}`);
      saveMoeModel(moe, dir);
      const pf = JSON.parse(readFileSync(join(dir, PARTITION_FILE), 'utf8'));
      const merged = mergeExperts(loadMoeModel(dir), pf.experts, pf.folded_score_scale, pf.shared_experts);
      const orig = new Map(dense.namedParameters().map(([k, t]) => [k, t.f32()]));
      for (const [name, t] of merged.namedParameters()) expect(Buffer.from(t.f32().buffer).equals(Buffer.from(orig.get(name)!.buffer)), name).toBe(true);
      expect(() => mergeExperts(loadMoeModel(dir), pf.experts, null, null)).toThrow(/shared experts but no partition file listing their neurons/);
    }), { numRuns: 8 });
  });
});

describe('drop-upcycle experts', () => {
  it('the property that holds: each expert equals the dense FFN on its kept neurons (bit for bit), and the re-initialised round(R·F) neurons follow the dense matrices\' mean and std', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 40 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.nat(), (D, F, R, seed) => {
      const r = createRng(seed);
      const gate = Float32Array.from({ length: F * D }, () => r.normal() + 0.5), up = Float32Array.from({ length: F * D }, () => r.normal()), down = Float32Array.from({ length: D * F }, () => r.normal() * 3);
      const [e] = expertsFromDense(gate, up, down, D, F, [Array.from({ length: F }, (_, i) => i)]);
      const dropped = dropUpcycleExpert(e!, gate, up, down, R, seed);
      expect(dropped.length).toBe(Math.round(R * F));
      const isDropped = new Set(dropped);
      const g = e!.gate.f32(), dn = e!.down.f32();
      for (let i = 0; i < F; i++) {
        if (isDropped.has(i)) continue;
        for (let p = 0; p < D; p++) { expect(g[i * D + p]).toBe(gate[i * D + p]); expect(dn[p * F + i]).toBe(down[p * F + i]); }
      }
      // the same seed re-draws the same neurons and values
      const [e2] = expertsFromDense(gate, up, down, D, F, [Array.from({ length: F }, (_, i) => i)]);
      expect(Array.from(dropUpcycleExpert(e2!, gate, up, down, R, seed))).toEqual(Array.from(dropped));
      expect(Buffer.from(e2!.up.f32().buffer).equals(Buffer.from(e!.up.f32().buffer))).toBe(true);
    }), { numRuns: 60 });
    // statistics of the re-initialised weights on a larger matrix
    const D = 64, F = 256, r = createRng(1);
    const gate = Float32Array.from({ length: F * D }, () => r.normal() * 0.5 + 0.2);
    const [e] = expertsFromDense(gate, gate, gate, D, F, [Array.from({ length: F }, (_, i) => i)]);
    const dropped = dropUpcycleExpert(e!, gate, gate, gate, 0.5, 9);
    const vals: number[] = [];
    for (const i of dropped) for (let p = 0; p < D; p++) vals.push(e!.gate.f32()[i * D + p]!);
    const m = vals.reduce((a, b) => a + b, 0) / vals.length;
    const sd = Math.sqrt(vals.reduce((a, b) => a + (b - m) ** 2, 0) / vals.length);
    expect(m).toBeCloseTo(0.2, 1);
    expect(sd).toBeCloseTo(0.5, 1);
  });
});

describe('combineExperts', () => {
  it('matches concat → scale by scores → index_add, and its gradients match finite differences', async () => {
    const { combineExperts } = await import('@llama-moe/router/modules');
    const { gradCheck, concat, indexAdd, indices, mul, reshape, scale } = await import('@llama-moe/tensor-core');
    fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 6 }), fc.nat(), (T, E, D, seed) => {
      const r = createRng(seed);
      const counts = Array.from({ length: E }, () => r.int(4));
      const S = counts.reduce((a, b) => a + b, 0);
      if (S === 0) return;
      const perm = Int32Array.from({ length: S }, () => r.int(T));
      const ys = counts.filter((c) => c > 0).map((c) => new Tensor(Float32Array.from({ length: c * D }, () => r.normal()), [c, D]));
      const w = new Tensor(Float32Array.from({ length: S }, () => r.uniform()), [S]);
      const got = combineExperts(ys, w, perm, T, 2.5).f32();
      const ref = indexAdd(T, indices(perm), mul(concat(ys, 0), scale(reshape(w, [S, 1]), 2.5))).f32();
      got.forEach((v, i) => expect(v).toBeCloseTo(ref[i]!, 5));
      const gc = gradCheck((...xs) => combineExperts(xs.slice(0, -1), xs[xs.length - 1]!, perm, T, 2.5), [...ys, w]);
      expect(gc.ok, gc.message).toBe(true);
    }), { numRuns: 40 });
  });
});

describe('training steps that release their activations (the trainer\'s backward)', () => {
  it('give bit-identical gradients to steps that keep them, step after step, in both formats (pooled buffers hold the last step\'s values)', async () => {
    const { add, indices, releaseGradBuffers } = await import('@llama-moe/tensor-core');
    const { causalLmLoss } = await import('@llama-moe/llama-model');
    for (const format of ['llama-moe', 'mixtral'] as MoeFormat[]) {
      const build = () => {
        // D·T ≥ the pool's 1024-float floor, so the combine output, norms and projections are pooled
        const dense = tinyDense(9, { hidden_size: 32, intermediate_size: 64, num_attention_heads: 4, num_key_value_heads: 2 });
        const spec: MoeSpec = { ...defaultMoeSpec(2, 64, 4, 2), sizeExperts: [[16, 16, 16, 16], [16, 16, 16, 16]], gateNetwork: format === 'mixtral' ? 'linear' : 'mlp' };
        return buildMoeFromDense(dense, { spec, format, partition: [randomPartition(64, [16, 16, 16, 16], 1), randomPartition(64, [16, 16, 16, 16], 2)], gateInit: 'random', seed: 4, method: 'random' });
      };
      const [a, b] = [build(), build()];
      for (const m of [a, b]) m.setTrainable(true);
      const pa = a.namedParameters(), pb = b.namedParameters();
      const rng = createRng(7);
      releaseGradBuffers();
      for (let step = 0; step < 4; step++) {
        const ids = indices(Int32Array.from({ length: 2 * 24 }, () => rng.int(48)), [2, 24]);
        const run = (m: typeof a, release: boolean) => {
          const out = m.forward(ids, { training: true });
          const ce = causalLmLoss(out.logits, ids);
          const loss = out.auxLoss ? add(ce, out.auxLoss) : ce;
          const v = loss.item();
          loss.backward(null, { releaseActivations: release });
          return v;
        };
        expect(run(a, true), `${format} step ${step}`).toBe(run(b, false));
        pa.forEach(([name, t], i) => {
          expect(Array.from(t.grad!.f32()), `${format} step ${step} ${name}`).toEqual(Array.from(pb[i]![1].grad!.f32()));
        });
        // the same small SGD step on both, so the next step's activations differ from the pooled ones
        for (const ps of [pa, pb]) for (const [, t] of ps) { const w = t.f32(), g = t.grad!.f32(); for (let j = 0; j < w.length; j++) w[j]! -= 0.5 * g[j]!; t.clearGrad(); }
      }
    }
  });
});

describe('takeColsMany', () => {
  for (const [label, impl] of [['registered takeCols kernel', takeColsMany], ['JavaScript', takeColsManyJs]] as const) {
    it(`property (${label}): one pass over the matrix gives each part what takeCols gives it (f32 and raw 16-bit, reused outputs)`, () => {
      fc.assert(fc.property(
        fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 5 }), fc.integer(),
        (R, C, nParts, seed) => {
          const rng = createRng(seed);
          const f32 = Float32Array.from({ length: R * C }, () => rng.normal());
          const u16 = Uint16Array.from({ length: R * C }, () => rng.int(65536));
          // Parts of any size, overlapping or not (upcycle takes every column in every part).
          const parts = Array.from({ length: nParts }, () => Array.from({ length: rng.int(C + 1) }, () => rng.int(C)));
          const many32 = impl(f32, R, C, parts);
          const into = parts.map((p) => new Uint16Array(R * p.length).fill(7));
          const many16 = impl(u16, R, C, parts, into);
          parts.forEach((p, j) => {
            expect(Array.from(many32[j]!)).toEqual(Array.from(takeCols(f32, R, C, p)));
            expect(many16[j]).toBe(into[j]);
            expect(Array.from(many16[j]!)).toEqual(Array.from(takeCols(u16, R, C, p)));
          });
        },
      ), { numRuns: 100 });
    });
  }

  it('takeCols kernel (cpu oracle by default): several row blocks (a 1.5 MB matrix), NaN payloads kept bit for bit, bad columns rejected', () => {
    const R = 300, C = 2600;
    const rng = createRng(5);
    const u16 = Uint16Array.from({ length: R * C }, () => rng.int(65536));
    const parts = [Array.from({ length: 700 }, () => rng.int(C)), Array.from({ length: 1300 }, (_, i) => (i * 2) % C)];
    takeColsMany(u16, R, C, parts).forEach((m, j) => expect(Buffer.compare(Buffer.from(m.buffer), Buffer.from(takeCols(u16, R, C, parts[j]!).buffer))).toBe(0));
    const bits = Uint32Array.from({ length: 4 * 8 }, (_, i) => 0x7fc00000 + i * 977);
    const f32 = new Float32Array(bits.buffer);
    const [g] = takeColsMany(f32, 4, 8, [[7, 0, 3]]);
    expect(Array.from(new Uint32Array(g!.buffer))).toEqual([0, 1, 2, 3].flatMap((r) => [7, 0, 3].map((c) => bits[r * 8 + c]!)));
    expect(() => takeColsMany(f32, 4, 8, [[8]])).toThrow(/column 8 is outside \[0, 8\)/);
  });

  it('goes through the registry: the wasm backend runs it where it is initialised, with the same bits as the cpu oracle', async () => {
    const R = 300, C = 2600;
    const rng = createRng(6);
    const u16 = Uint16Array.from({ length: R * C }, () => rng.int(65536));
    const parts = [Array.from({ length: 700 }, () => rng.int(C)), Array.from({ length: 40 }, (_, i) => i)];
    const onCpu = takeColsMany(u16, R, C, parts);
    expect(lastBackend('takeCols')).toBe('cpu');
    expect((await initWasmBackend({ threads: 1 })).ok).toBe(true);
    try {
      const onWasm = withBackend('wasm', () => takeColsMany(u16, R, C, parts));
      expect(lastBackend('takeCols')).toBe('wasm');
      onWasm.forEach((m, j) => expect(Buffer.compare(Buffer.from(m.buffer), Buffer.from(onCpu[j]!.buffer))).toBe(0));
      expect(() => withBackend('wasm', () => takeColsMany(u16, R, C, [[C]]))).toThrow(/column 2600 is outside \[0, 2600\)/);
    } finally {
      disposeWasmBackend();
    }
  });
});
