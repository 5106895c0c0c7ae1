import { mkdtempSync, readFileSync, rmSync, existsSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LlamaForCausalLM, openCheckpoint, parseLlamaConfig, saveLlama } from '@llama-moe/llama-model/node';
import { mergeExperts } from '../moe/merge.js';
import { PARTITION_FILE } from '../moe/partition-file.js';
import { loadMoeModel } from '../moe/moe-files.js';
import { SplitError, splitStreaming } from './split.js';

const work = mkdtempSync(join(tmpdir(), 'split-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function denseDir(name: string, dtype: 'float32' | 'bfloat16' = 'bfloat16', over: Record<string, unknown> = {}) {
  const cfg = parseLlamaConfig({ model_type: 'llama', vocab_size: 40, hidden_size: 16, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 32, rms_norm_eps: 1e-5, initializer_range: 0.3, torch_dtype: dtype, ...over });
  const m = LlamaForCausalLM.random(cfg, { seed: 1 });
  const dir = join(work, name);
  saveLlama(m, dir, { dtype });
  writeFileSync(join(dir, 'tokenizer.json'), '{"fake": true}');
  return { dir, model: m };
}

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0, d = 0;
  for (let i = 0; i < b.length; i++) { m = Math.max(m, Math.abs(b[i]!)); d = Math.max(d, Math.abs(a[i]! - b[i]!)); }
  return d / Math.max(m, 1e-30);
}

describe('streaming split', () => {
  for (const format of ['llama-moe', 'mixtral'] as const) {
    for (const method of ['random', 'clustering'] as const) {
      it(`${method} → ${format}: dense-equivalent with top-k = E, zero gates, scale E; tensors copied bit-exactly; merge restores the dense weights`, () => {
        const { dir, model: dense } = denseDir(`d-${format}-${method}`, 'float32');
        const out = join(work, `o-${format}-${method}`);
        const r = splitStreaming({ model: dir, out, experts: 4, topK: 4, method, format, gateInit: 'zeros', scoreScale: 4, seed: 3 });
        expect(r.streamed).toBe(true);
        const moe = loadMoeModel(out);
        const ids = [1, 5, 9, 33, 2];
        expect(maxRel(moe.logits(ids).f32(), dense.logits(ids).f32())).toBeLessThanOrEqual(1e-5);
        expect(existsSync(join(out, 'tokenizer.json'))).toBe(true);
        const pf = JSON.parse(readFileSync(join(out, PARTITION_FILE), 'utf8'));
        const merged = mergeExperts(moe, pf.experts, pf.folded_score_scale);
        const orig = new Map(dense.namedParameters().map(([k, t]) => [k, t.f32()]));
        for (const [name, t] of merged.namedParameters()) expect(Buffer.from(t.f32().buffer).equals(Buffer.from(orig.get(name)!.buffer)), name).toBe(true);
      });
    }
  }

  it('keeps bf16 tensors byte-identical and writes bf16 experts', () => {
    const { dir } = denseDir('bf16');
    const out = join(work, 'bf16-out');
    splitStreaming({ model: dir, out, experts: 3, topK: 1, method: 'random', seed: 0 });
    const a = openCheckpoint(dir), b = openCheckpoint(out);
    expect(Buffer.from(a.readRaw('model.embed_tokens.weight')).equals(Buffer.from(b.readRaw('model.embed_tokens.weight')))).toBe(true);
    expect(b.info('model.layers.1.mlp.calculator.experts.weight_up.2').dtype).toBe('BF16');
    expect(b.info('model.layers.1.mlp.calculator.experts.weight_up.2').shape).toEqual([16, 16]);
    a.close(); b.close();
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ model_type: 'llama_moe', num_experts: 3, num_selects: 1, score_scale_factor: 3, torch_dtype: 'bfloat16' });
  });

  for (const [format, scoreScale] of [['llama-moe', undefined], ['mixtral', 1]] as const) {
    it(`bf16 → ${format}: every expert holds exactly its neurons' bf16 bits (rows of gate/up written from the dense rows, columns of down gathered)`, () => {
      const { dir } = denseDir(`bf16-bits-${format}`);
      const out = join(work, `bf16-bits-${format}-out`);
      splitStreaming({ model: dir, out, experts: 3, topK: 1, method: 'random', format, scoreScale, seed: 5, sizeExperts: format === 'mixtral' ? undefined : [10, 15, 23] });
      const pf = JSON.parse(readFileSync(join(out, PARTITION_FILE), 'utf8')) as { experts: number[][][] };
      const a = openCheckpoint(dir), b = openCheckpoint(out);
      const u16 = (x: Uint8Array) => new Uint16Array(x.slice().buffer);
      const D = a.info('model.layers.0.mlp.up_proj.weight').shape[1]!, F = a.info('model.layers.0.mlp.up_proj.weight').shape[0]!;
      pf.experts.forEach((layer, l) => {
        const gate = u16(a.readRaw(`model.layers.${l}.mlp.gate_proj.weight`)), up = u16(a.readRaw(`model.layers.${l}.mlp.up_proj.weight`)), down = u16(a.readRaw(`model.layers.${l}.mlp.down_proj.weight`));
        layer.forEach((idx, j) => {
          const name = (role: 'gate' | 'up' | 'down') => (format === 'mixtral' ? `model.layers.${l}.block_sparse_moe.experts.${j}.${{ gate: 'w1', up: 'w3', down: 'w2' }[role]}.weight` : `model.layers.${l}.mlp.calculator.experts.weight_${role}.${j}`);
          expect(Array.from(u16(b.readRaw(name('gate'))))).toEqual(idx.flatMap((r) => Array.from(gate.subarray(r * D, r * D + D))));
          expect(Array.from(u16(b.readRaw(name('up'))))).toEqual(idx.flatMap((r) => Array.from(up.subarray(r * D, r * D + D))));
          expect(Array.from(u16(b.readRaw(name('down'))))).toEqual(Array.from({ length: D }, (_, r) => idx.map((c) => down[r * F + c]!)).flat());
        });
      });
      a.close(); b.close();
    });
  }

  it('upcycle copies the whole FFN into every expert (with optional noise)', () => {
    const { dir, model: dense } = denseDir('up', 'float32');
    const out = join(work, 'up-out');
    splitStreaming({ model: dir, out, experts: 2, topK: 1, method: 'upcycle', gateInit: 'zeros', scoreScale: 1 });
    const moe = loadMoeModel(out);
    // Any single expert is the dense FFN: top-1 with scale 1 and score 1 reproduces the dense model.
    expect(maxRel(moe.logits([1, 2, 3]).f32(), dense.logits([1, 2, 3]).f32())).toBeLessThanOrEqual(1e-5);
  });

  it('rejects bad options with one clear message and writes nothing', () => {
    const { dir } = denseDir('bad', 'float32');
    const out = join(work, 'bad-out');
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ experts: 4, topK: 5 }, /--top-k 5 is larger than --experts 4/],
      [{ experts: 0, topK: 1 }, /--experts must be a positive integer/],
      [{ experts: 5, topK: 1 }, /intermediate_size 48 is not divisible by 5 experts/],
      [{ experts: 4, topK: 1, method: 'nope' }, /unknown method 'nope'/],
      [{ experts: 4, topK: 1, format: 'gguf' }, /unknown format 'gguf'/],
      [{ experts: 4, topK: 1, method: 'graph' }, /needs calibration data \(--data\)/],
      [{ experts: 4, topK: 1, format: 'mixtral', sizeExperts: [10, 10, 10, 18] }, /Mixtral needs every expert/],
    ];
    for (const [over, re] of cases) {
      expect(() => splitStreaming({ model: dir, out, method: 'random', ...over } as never)).toThrow(re);
      expect(existsSync(out)).toBe(false);
    }
    mkdirSync(out);
    writeFileSync(join(out, 'x'), 'keep');
    expect(() => splitStreaming({ model: dir, out, experts: 4, topK: 1, method: 'random' })).toThrow(/not empty/);
    expect(readdirSync(out)).toEqual(['x']);
    expect(readdirSync(work).filter((f) => f.includes('partial'))).toEqual([]);
    void SplitError;
  });
});
