/**
 * MoE models → GGUF `llama`, run in a real llama.cpp (node-llama-cpp 3.21.1, CPU, f32 KV cache)
 * and compared with the project's forward: 2-of-8 MoEs from random, clustering and upcycle
 * partitions, LLaMA-MoE's score scale, unequal experts (zero padding), shared experts (folded
 * into every routed expert) and a carved model (shared expert, ridge router, recalibrated scales): F32 logits within 1e-4 · max|logit|, 32 greedy tokens identical.
 * Gates llama.cpp cannot run are refused before anything is written.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GgufError, GgufFile, LlamaForCausalLM, Tokenizer, generate, parseLlamaConfig, PRESETS, sampleTokenizerTexts, trainLlamaTokenizer } from '@llama-moe/llama-model/node';
// The llama.cpp harness is in the private @llama-moe/test-support package (node-llama-cpp is its dependency).
import { compareLogits, openInLlamaCpp } from '@llama-moe/test-support/llama-cpp';
import { buildMoeFromDense } from '../moe/build.js';
import { type MoeFormat } from '../moe/moe-config.js';
import { MoeFeedForward } from '@llama-moe/router/modules';
import { clusteringPartition } from '../partition/clustering.js';
import { randomPartition, upcyclePartition } from '../partition/random.js';
import { defaultMoeSpec, type MoeSpec } from './moe-spec.js';
import { ggufMoeIncompatibility, writeMoeGguf } from './gguf.js';
import { carveSizes, collectActivationStats, collectRouterCalibration, dataRouters, defaultCarveSharedSize, partitionLayer } from '../index.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'moe-gguf-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const V = 384, D = 64, F = 128, L = 2, E = 8, K = 2;
let tok: Tokenizer;
let dense: LlamaForCausalLM;
beforeAll(() => {
  const tr = trainLlamaTokenizer(sampleTokenizerTexts({ seed: 7, count: 60 }), { vocabSize: V, style: 'llama2', padToVocabSize: true });
  tok = new Tokenizer({ tokenizerJson: tr.tokenizerJson, tokenizerConfig: tr.tokenizerConfig });
  const cfg = parseLlamaConfig({ ...PRESETS.tiny, vocab_size: V, hidden_size: D, intermediate_size: F, num_hidden_layers: L, num_attention_heads: 4, num_key_value_heads: 2, initializer_range: 0.1 });
  dense = LlamaForCausalLM.random(cfg, { seed: 5 });
});

function spec(format: MoeFormat, sizes: number[], over: Partial<MoeSpec> = {}): MoeSpec {
  return { ...defaultMoeSpec(L, F, E, K), gateNetwork: 'linear', gateAddNoise: false, sizeExperts: Array.from({ length: L }, () => sizes), ...(format === 'mixtral' ? { scoreScaleFactor: 1 } : {}), ...over };
}

/** Gate logits large enough that no two experts tie within float rounding. */
function sharpenGates(m: LlamaForCausalLM): LlamaForCausalLM {
  for (const Lr of m.weights.layers) for (const [, t] of (Lr.mlp as MoeFeedForward).gate.namedParameters()) { const d = t.f32(); for (let i = 0; i < d.length; i++) d[i]! *= 20; }
  return m;
}

const upF = () => dense.weights.layers.map((Lr) => (Lr.mlp.namedParameters()[1]![1]).f32());
const CASES: Array<[string, () => LlamaForCausalLM]> = [
  ['random partition, Mixtral layout', () => buildMoeFromDense(dense, { spec: spec('mixtral', new Array(E).fill(F / E)), format: 'mixtral', partition: [0, 1].map((l) => randomPartition(F, new Array(E).fill(F / E), { seed: 1, layer: l }).experts), gateInit: 'random', seed: 1, method: 'random' })],
  ['clustering partition, LLaMA-MoE layout with score scale 4', () => buildMoeFromDense(dense, { spec: spec('llama-moe', new Array(E).fill(F / E)), format: 'llama-moe', partition: upF().map((u, l) => clusteringPartition(u, F, D, new Array(E).fill(F / E), { seed: 2, layer: l }).experts), gateInit: 'random', seed: 2, method: 'clustering' })],
  ['upcycle (8 noisy copies)', () => buildMoeFromDense(dense, { spec: spec('mixtral', new Array(E).fill(F)), format: 'mixtral', partition: [0, 1].map(() => upcyclePartition(F, E).experts), gateInit: 'random', seed: 3, upcycleNoise: 0.1, method: 'upcycle' })],
  ['unequal experts (zero padding)', () => {
    const sizes = [8, 24, 16, 16, 4, 28, 16, 16];
    return buildMoeFromDense(dense, { spec: spec('llama-moe', sizes), format: 'llama-moe', partition: [0, 1].map((l) => randomPartition(F, sizes, { seed: 4, layer: l }).experts), gateInit: 'random', seed: 4, method: 'random' });
  }],
  ['shared experts (sharing-inter shape, folded into every routed expert)', () => {
    const sizes = new Array(E).fill(12);
    const parts = [0, 1].map((l) => randomPartition(F, [...sizes, 16, 16], { seed: 5, layer: l }).experts);
    return buildMoeFromDense(dense, { spec: { ...spec('llama-moe', sizes), sizeSharedExperts: [[16, 16], [16, 16]] }, format: 'llama-moe', partition: parts.map((p) => p.slice(0, E)), sharedPartition: parts.map((p) => p.slice(E)), gateInit: 'random', seed: 5, method: 'sharing-inter' });
  }],
  ['carve (co-activation experts, shared expert, ridge router, --recalibrate scales, score scale k)', () => {
    // The training-free construction end to end, as `split --method carve --recalibrate` runs it.
    const seqs = Array.from({ length: 8 }, (_, i) => Int32Array.from(ids(32, 100 + i)));
    const shared = defaultCarveSharedSize(F, E);
    const sizes = carveSizes(F, E, shared);
    const stats = collectActivationStats(dense, seqs, 32);
    const parts = stats.map((st, l) => partitionLayer('carve', { activation: st }, { intermediateSize: F, numExperts: E, sharedSizes: [shared], sizeExperts: sizes, seed: 7, layer: l }));
    const cals = collectRouterCalibration(dense, seqs, 32, parts, { seed: 7 });
    const fit = dataRouters(dense, parts, cals, { init: 'ridge', fitScale: true, recalibrate: true, topK: K, scoreScale: K, seed: 7 });
    return buildMoeFromDense(dense, {
      spec: { ...spec('llama-moe', sizes), scoreScaleFactor: K, sizeSharedExperts: [[shared], [shared]] }, format: 'llama-moe',
      partition: parts.map((p) => p.experts), sharedPartition: parts.map((p) => p.shared), gateInit: 'ridge', centroids: fit.rows, expertScales: fit.expertScales, seed: 7, method: 'carve',
    });
  }],
];

function ids(n: number, seed: number): number[] {
  let s = seed;
  return [1, ...Array.from({ length: n - 1 }, () => 3 + ((s = (s * 1103515245 + 12345) % 2147483648) % (V - 3)))];
}

describe('MoE → GGUF llama, checked in llama.cpp', () => {
  CASES.forEach(([label, make], ci) => {
    it(`2-of-8 ${label}: F32 logits within 1e-4·max|logit|, 32 greedy tokens identical`, async () => {
      const m = sharpenGates(make());
      expect(ggufMoeIncompatibility(m)).toBeNull();
      const file = path.join(tmp, `moe${ci}.gguf`);
      writeMoeGguf(m, file, { tokenizer: tok, outtype: 'f32' });
      const g = GgufFile.open(file);
      expect(g.metadataJs()).toMatchObject({ 'llama.expert_count': E, 'llama.expert_used_count': K });
      expect(g.info('blk.0.ffn_down_exps.weight').shape.slice(0, 2)).toEqual([E, D]);
      g.close();
      const run = await openInLlamaCpp(file);
      try {
        const x = ids(64, ci + 1);
        const r = compareLogits(m.logits(Int32Array.from(x)).f32(), await run.logits(x), V);
        console.log(`[gguf moe ${label}] max|Δlogit| ${r.maxDiff.toExponential(2)}, max|logit| ${r.maxAbs.toFixed(3)}, ratio ${(r.maxDiff / r.maxAbs).toExponential(2)}`);
        expect(r.maxDiff).toBeLessThanOrEqual(1e-4 * r.maxAbs);
        const prompt = x.slice(0, 5);
        expect(await run.greedy(prompt, 32)).toEqual(generate(m, prompt, { maxNewTokens: 32, temperature: 0, stopTokens: [] }).tokens);
      } finally {
        await run.dispose();
      }
    }, 60_000);
  });

  it('F16 / BF16 / Q8_0 (2-of-8 random): argmax agreement 100 % / 100 % / ≥ 95 % on 128 positions', async () => {
    // As in the dense test: embeddings 10x the other weights (tied), so next-token margins are not
    // the razor-thin ones of an untrained random head; routing decisions still differ when rounding
    // flips a near-tie, which the thresholds allow for Q8_0 only.
    const sizes = new Array(E).fill(F / E);
    const m = sharpenGates(buildMoeFromDense(dense, { spec: spec('mixtral', sizes), format: 'mixtral', partition: [0, 1].map((l) => randomPartition(F, sizes, { seed: 6, layer: l }).experts), gateInit: 'random', seed: 6, method: 'random' }));
    const e = m.weights.embed.f32();
    const saved = e.slice();
    const head = m.weights.lmHead.f32();
    const savedHead = head.slice();
    for (let i = 0; i < e.length; i++) e[i]! *= 10;
    head.set(e);
    try {
      const x = ids(128, 77);
      const ours = m.logits(Int32Array.from(x)).f32();
      for (const [outtype, need] of [['f16', 1], ['bf16', 1], ['q8_0', 0.95]] as const) {
        const file = path.join(tmp, `moe-${outtype}.gguf`);
        writeMoeGguf(m, file, { tokenizer: tok, outtype });
        const run = await openInLlamaCpp(file);
        try {
          const r = compareLogits(ours, await run.logits(x), V);
          console.log(`[gguf moe ${outtype}] argmax agreement ${(r.argmaxAgree * 100).toFixed(1)} %, max|Δlogit| ${(r.maxDiff / r.maxAbs).toExponential(2)}·max|logit|`);
          expect(r.argmaxAgree).toBeGreaterThanOrEqual(need);
        } finally {
          await run.dispose();
        }
      }
    } finally {
      e.set(saved);
      head.set(savedHead);
    }
  }, 120_000);

  it('an MLP gate (LLaMA-MoE default) is refused with the reason and nothing is written', () => {
    const sizes = new Array(E).fill(F / E);
    const m = buildMoeFromDense(dense, { spec: { ...spec('llama-moe', sizes), gateNetwork: 'mlp' }, format: 'llama-moe', partition: [0, 1].map((l) => randomPartition(F, sizes, { seed: 1, layer: l }).experts), gateInit: 'random', seed: 1 });
    expect(ggufMoeIncompatibility(m)).toMatch(/layer 0: llama.cpp's router is one linear layer; gate_network 'mlp'/);
    const file = path.join(tmp, 'refused.gguf');
    expect(() => writeMoeGguf(m, file, { tokenizer: tok })).toThrow(GgufError);
    expect(fs.readdirSync(tmp).filter((n) => n.startsWith('refused'))).toEqual([]);
  });
});
