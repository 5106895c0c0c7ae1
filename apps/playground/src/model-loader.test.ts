/**
 * The page's in-memory loader against the library's file loader: same logits bit for bit for
 * LLaMA-MoE (mlp and linear gates) and Mixtral folders, single-file and sharded; the gate taps
 * see what the gates computed; and the routing trace built from generateSteps' records matches
 * one forward pass over the whole generated sequence.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LlamaForCausalLM, generateSteps, loadLlama, presetConfig, saveLlama } from '@llama-moe/llama-model/node';
import { loadMoeModel } from '@llama-moe/expert-partition/node';
import { makeDemoModel } from '../scripts/demo-model.js';
import { PlaygroundLoadError, loadModelFromFiles, type ModelFiles } from './model-loader.js';
import { RoutingTrace } from './routing-trace.js';

const work = mkdtempSync(join(tmpdir(), 'playground-loader-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function readFolder(dir: string): ModelFiles {
  return new Map(readdirSync(dir).map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))]));
}

const IDS = [1, 17, 250, 3, 99, 4, 511, 42, 7];

describe('loadModelFromFiles', () => {
  const cases = [
    { name: 'llama-moe, mlp gate, one file', format: 'llama-moe', gateNetwork: 'mlp', experts: 4, topK: 2 },
    { name: 'llama-moe, linear gate, sharded, top-1 of 2', format: 'llama-moe', gateNetwork: 'linear', experts: 2, topK: 1, maxShardBytes: 200_000 },
    { name: 'mixtral, sharded, top-3 of 4', format: 'mixtral', gateNetwork: 'linear', experts: 4, topK: 3, maxShardBytes: 150_000 },
  ] as const;
  cases.forEach((c, i) => {
    it(`matches loadMoeModel: ${c.name}`, () => {
      const dir = join(work, `m${i}`);
      makeDemoModel(dir, { ...c, seed: i + 1 });
      const files = readFolder(dir);
      if ('maxShardBytes' in c) expect(files.has('model.safetensors.index.json')).toBe(true);
      const mine = loadModelFromFiles('test', files);
      const ref = loadMoeModel(dir);
      expect(mine.moe?.numExperts).toBe(c.experts);
      expect(mine.moe?.topK).toBe(c.topK);
      expect(mine.moe?.format).toBe(c.format);
      expect(mine.moe?.taps).toHaveLength(mine.config.num_hidden_layers);
      const a = mine.model.forward(IDS, { collectStats: true });
      const b = ref.forward(IDS, { collectStats: true });
      expect(Array.from(a.logits.f32())).toEqual(Array.from(b.logits.f32()));
      expect(a.records).toEqual(b.records);
      // The taps saw this forward: [T, E] probabilities summing to 1 per token, top-k as recorded.
      mine.moe!.taps.forEach((tap, l) => {
        const last = tap.last!;
        expect(last.T).toBe(IDS.length);
        expect(Array.from(last.topkIndices)).toEqual((a.records[l] as { topkIndices: number[] }).topkIndices);
        for (let t = 0; t < IDS.length; t++) {
          const row = last.probs.subarray(t * c.experts, (t + 1) * c.experts);
          expect(row.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 5);
        }
      });
      expect(mine.numParameters).toBe(ref.namedParameters().reduce((n, [, t]) => n + t.size, 0));
      expect(mine.tokenizer.vocabSize).toBe(mine.config.vocab_size);
    });
  });

  it('loads a dense llama folder with no MoE summary', () => {
    const dir = join(work, 'dense');
    const moeDir = join(work, 'm0');
    const dense = LlamaForCausalLM.random(presetConfig('tiny'), { seed: 5 });
    saveLlama(dense, dir, { extraFiles: { 'tokenizer.json': readFileSync(join(moeDir, 'tokenizer.json'), 'utf8') } });
    const mine = loadModelFromFiles('dense', readFolder(dir));
    expect(mine.moe).toBeNull();
    expect(Array.from(mine.model.forward(IDS).logits.f32())).toEqual(Array.from(loadLlama(dir).forward(IDS).logits.f32()));
  });

  it('names the missing or broken file', () => {
    const files = readFolder(join(work, 'm0'));
    const without = (name: string) => new Map([...files].filter(([f]) => f !== name));
    expect(() => loadModelFromFiles('x', without('tokenizer.json'))).toThrow(PlaygroundLoadError);
    expect(() => loadModelFromFiles('x', without('tokenizer.json'))).toThrow(/^tokenizer\.json: missing/);
    expect(() => loadModelFromFiles('x', without('config.json'))).toThrow(/^config\.json: missing/);
    expect(() => loadModelFromFiles('x', new Map([...files, ['config.json', new TextEncoder().encode('{oops')]]))).toThrow(/^config\.json: not valid JSON/);
    expect(() => loadModelFromFiles('x', without('model.safetensors'))).toThrow(/safetensors/);
  });
});

describe('routing trace from generateSteps', () => {
  it('gives every prompt and generated token the routing one full forward over the sequence gives', () => {
    const m = loadModelFromFiles('t', readFolder(join(work, 'm0')));
    const { model, config } = m;
    const moe = m.moe!;
    const L = config.num_hidden_layers, E = moe.numExperts, k = moe.topK;
    for (const [prompt, N] of [[[1], 6], [[1, 40, 41, 300, 12], 9], [[1, 2, 3], 1]] as [number[], number][]) {
      const trace = new RoutingTrace(L, E, k);
      for (const id of prompt) trace.addToken(id, String(id), 'prompt');
      // As the page does: ask for N + 1 tokens, show N; the last step routes token N-1.
      const it = generateSteps(model, prompt, {
        maxNewTokens: N + 1, stopTokens: [],
        onRecords: (records, step) => trace.ingest(records, step === 0 ? 0 : prompt.length + step - 1, moe.taps.map((t) => t.last)),
      });
      const ids: number[] = [];
      for (;;) {
        const r = it.next();
        if (r.done || ids.length === N) break;
        ids.push(r.value);
        trace.addToken(r.value, String(r.value), 'generated');
      }
      expect(ids).toHaveLength(N);
      expect(trace.steps).toBe(N + 1);
      const all = [...prompt, ...ids];
      expect(trace.rows.map((r) => r.id)).toEqual(all);
      const full = model.forward(all, { collectStats: true });
      for (let l = 0; l < L; l++) {
        const rec = full.records[l] as { topkIndices: number[]; load: number[] };
        const probs = moe.taps[l]!.last!.probs;
        // Loads summed over the incremental steps equal the loads of the single forward.
        expect(trace.load[l]).toEqual(rec.load);
        expect(trace.loadShare(l).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
        all.forEach((_, t) => {
          const lr = trace.rows[t]!.layers[l]!;
          expect(lr.probs).toHaveLength(E);
          lr.probs!.forEach((p, e) => expect(Math.abs(p - probs[t * E + e]!)).toBeLessThan(1e-4));
          const want = rec.topkIndices.slice(t * k, t * k + k);
          // Incremental and full forwards round differently; top-k may only differ on a near tie.
          if (lr.topk.join() !== want.join()) {
            const sorted = [...lr.probs!].sort((x, y) => y - x);
            expect(sorted[k - 1]! - sorted[k]!).toBeLessThan(1e-4);
          }
          expect(lr.weights.every((w) => w > 0 && w <= 1)).toBe(true);
        });
      }
    }
  });
});
