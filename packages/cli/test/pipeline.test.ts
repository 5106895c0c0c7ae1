/** init tiny → inspect → logits → generate, run in-process against the sources. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { argmax, loadLlama, loadTokenizer, openCheckpoint, readNpy, generate } from '@llama-moe/llama-model/node';
import { cli, listTree, tempDir, tinyModel } from './helpers.js';
import { initTensorData, initTensorPlan, initConfig, tensorSeed } from '../src/commands/init.js';

let root: string;
let model: string;

beforeAll(async () => {
  root = tempDir();
  model = await tinyModel(root);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('init', () => {
  test('writes a complete Hugging Face folder whose tokenizer has exactly vocab_size tokens', () => {
    expect(listTree(model)).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
    const cfg = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8'));
    expect(cfg.model_type).toBe('llama');
    expect(cfg.vocab_size).toBe(512);
    expect(cfg.torch_dtype).toBe('float32');
    expect(loadTokenizer(model).vocabSize).toBe(512);
    // No staging folders left beside it.
    expect(fs.readdirSync(root)).toEqual(['tiny']);
  });

  test('is deterministic per seed and a tensor does not depend on the layer count', async () => {
    const a = path.join(root, 'a');
    const b = path.join(root, 'b');
    const c = path.join(root, 'c');
    expect((await cli(['init', '--preset', 'tiny', '--out', a, '--seed', '7', '--quiet'])).code).toBe(0);
    expect((await cli(['init', '--preset', 'tiny', '--out', b, '--seed', '7', '--quiet', '--layers', '1'])).code).toBe(0);
    expect((await cli(['init', '--preset', 'tiny', '--out', c, '--seed', '8', '--quiet'])).code).toBe(0);
    const ca = openCheckpoint(a), cb = openCheckpoint(b), cc = openCheckpoint(c);
    try {
      expect(ca.keys().length).toBe(2 + 9 * 2 + 1);
      expect(cb.keys().length).toBe(2 + 9 + 1);
      for (const name of cb.keys()) expect(Buffer.from(cb.readRaw(name)).equals(Buffer.from(ca.readRaw(name)))).toBe(true);
      expect(Buffer.from(cc.readRaw('lm_head.weight')).equals(Buffer.from(ca.readRaw('lm_head.weight')))).toBe(false);
      // Norms are ones, linears N(0, 0.02).
      expect([...ca.readF32('model.norm.weight')].every((v) => v === 1)).toBe(true);
      const w = ca.readF32('model.layers.1.mlp.up_proj.weight');
      const mean = w.reduce((s, v) => s + v, 0) / w.length;
      const std = Math.sqrt(w.reduce((s, v) => s + (v - mean) ** 2, 0) / w.length);
      expect(Math.abs(mean)).toBeLessThan(0.002);
      expect(std).toBeGreaterThan(0.018);
      expect(std).toBeLessThan(0.022);
    } finally {
      ca.close(); cb.close(); cc.close();
    }
  });

  test('bfloat16 storage, vocab override and small shards', async () => {
    const out = path.join(root, 'bf16');
    const r = await cli(['init', '--preset', 'tiny', '--out', out, '--dtype', 'bfloat16', '--vocab-size', '300', '--max-shard-size', '100KB']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/wrote .*bf16.*bfloat16/);
    const files = fs.readdirSync(out);
    expect(files).toContain('model.safetensors.index.json');
    expect(files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length).toBeGreaterThan(1);
    const ck = openCheckpoint(out);
    try {
      expect(ck.info('model.embed_tokens.weight').dtype).toBe('BF16');
      expect(ck.info('model.embed_tokens.weight').shape).toEqual([300, 64]);
    } finally {
      ck.close();
    }
    expect(loadTokenizer(out).vocabSize).toBe(300);
    // Same values as the f32 plan, rounded to bf16: generated from the same per-tensor RNG.
    const plan = initTensorPlan(initConfig({ preset: 'tiny', vocabSize: 300 }));
    const t = plan.find((p) => p.name === 'model.layers.0.self_attn.q_proj.weight')!;
    const f32 = initTensorData(t, 0, 0.02);
    const model2 = loadLlama(out);
    const q = model2.weights.layers[0]!.attn.q.f32();
    for (let i = 0; i < 50; i++) expect(Math.abs(q[i]! - f32[i]!)).toBeLessThanOrEqual(Math.abs(f32[i]!) / 128 + 1e-9);
    expect(tensorSeed(0, 'a')).not.toBe(tensorSeed(1, 'a'));
  });
});

describe('inspect', () => {
  test('human-readable report names config, counts, files, tensors and tokenizer', async () => {
    const r = await cli(['inspect', model]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('hidden_size:');
    expect(r.stdout).toContain('158,016');
    expect(r.stdout).toContain('model.safetensors');
    expect(r.stdout).toContain('model.layers.1.mlp.down_proj.weight');
    expect(r.stdout).toMatch(/tokenizer\.json\s+512 tokens/);
  });

  test('--json gives parameter counts that match the tensors', async () => {
    const r = await cli(['inspect', model, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    const D = 64, F = 176, V = 512;
    const perLayer = D * D * 2 + 2 * (32 * D) + 3 * D * F + 2 * D;
    expect(j.parameters.total).toBe(2 * V * D + 2 * perLayer + D);
    expect(j.parameters.active_per_token).toBe(j.parameters.total);
    expect(j.moe).toBeNull();
    expect(j.tensors.length).toBe(21);
    expect(j.tokenizer.vocab_size).toBe(512);
    expect(j.files[0].name).toBe('model.safetensors');
    expect(j.dtypes).toEqual({ F32: j.parameters.total });
  });

  test('counts active parameters of a (header-only) mixtral folder', async () => {
    const dir = path.join(root, 'mixtral');
    fs.mkdirSync(dir);
    const cfg = { model_type: 'mixtral', architectures: ['MixtralForCausalLM'], vocab_size: 16, hidden_size: 8, intermediate_size: 4, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 2, num_local_experts: 4, num_experts_per_tok: 2 };
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
    const { writeSafetensors } = await import('@llama-moe/llama-model/node');
    const t = (name: string, shape: number[]) => ({ name, dtype: 'F32' as const, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
    const tensors = [t('model.embed_tokens.weight', [16, 8]), t('model.layers.0.block_sparse_moe.gate.weight', [4, 8])];
    for (let e = 0; e < 4; e++) for (const w of ['w1', 'w2', 'w3']) tensors.push(t(`model.layers.0.block_sparse_moe.experts.${e}.${w}.weight`, w === 'w2' ? [8, 4] : [4, 8]));
    writeSafetensors(path.join(dir, 'model.safetensors'), tensors);
    const r = await cli(['inspect', dir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.moe).toMatchObject({ num_experts: 4, top_k: 2, expert_parameters: 4 * 3 * 32 });
    expect(j.parameters.total).toBe(128 + 32 + 384);
    expect(j.parameters.active_per_token).toBe(128 + 32 + 192);
    expect(j.tokenizer).toBeNull();
  });
});

describe('logits', () => {
  test('writes float32 [T, V] equal to the model\'s own logits', async () => {
    const out = path.join(root, 'out', 'logits.npy');
    const r = await cli(['logits', '--model', model, '--tokens', '1,5,9,300', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const npy = readNpy(out);
    expect(npy.descr).toBe('<f4');
    expect(npy.shape).toEqual([4, 512]);
    const ref = loadLlama(model).logits([1, 5, 9, 300]).f32();
    expect(Array.from(npy.data as Float32Array)).toEqual(Array.from(ref));
    const j = JSON.parse(r.stdout);
    expect(j.shape).toEqual([4, 512]);
    expect(j.argmax[3]).toBe(argmax(ref.subarray(3 * 512, 4 * 512)));
  });

  test('--prompt encodes with the folder tokenizer (BOS first)', async () => {
    const out = path.join(root, 'prompt.npy');
    const r = await cli(['logits', '--model', model, '--prompt', 'The quiet river', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const ids = loadTokenizer(model).encode('The quiet river');
    expect(ids[0]).toBe(1);
    expect(JSON.parse(r.stdout).tokens).toEqual(ids);
    expect(readNpy(out).shape).toEqual([ids.length, 512]);
  });
});

describe('generate', () => {
  test('greedy generation is deterministic and follows the argmax of the logits', async () => {
    const args = ['generate', '--model', model, '--tokens', '1,5,9', '--max-new-tokens', '6', '--ignore-eos', '--json'];
    const a = await cli(args);
    const b = await cli(args);
    expect(a.code, a.stderr).toBe(0);
    const j = JSON.parse(a.stdout);
    const { timing: _t1, ...ja } = j;
    const { timing: _t2, ...jb } = JSON.parse(b.stdout);
    expect(ja).toEqual(jb);
    expect(Object.keys(j.timing).sort()).toEqual(['decode_ms', 'decode_tokens_per_s', 'prefill_ms', 'prefill_tokens_per_s']);
    expect(j.tokens.length).toBe(6);
    expect(j.finish_reason).toBe('length');
    // Reference: full forward each step, greedy.
    const m = loadLlama(model);
    const seq = [1, 5, 9];
    for (let i = 0; i < 6; i++) {
      const l = m.logits(seq).f32();
      seq.push(argmax(l.subarray(l.length - 512)));
    }
    expect(j.tokens).toEqual(seq.slice(3));
    expect(j.text).toBe(loadTokenizer(model).decode(j.tokens, { skipSpecialTokens: true }));
  });

  test('sampling with a seed repeats; text streams to stdout and stats go to stderr', async () => {
    const args = ['generate', '--model', model, '--prompt', 'Once upon', '--max-new-tokens', '8', '--temperature', '0.9', '--top-p', '0.95', '--top-k', '50', '--seed', '3', '--ignore-eos'];
    const a = await cli(args);
    const b = await cli(args);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout.endsWith('\n')).toBe(true);
    expect(a.stderr).toMatch(/prefill: \d+ tokens .* decode: 8 tokens/);
    const tok = loadTokenizer(model);
    const ref = generate(loadLlama(model), tok.encode('Once upon'), { maxNewTokens: 8, temperature: 0.9, topP: 0.95, topK: 50, seed: 3, stopTokens: [] });
    expect(a.stdout).toBe(tok.decode(ref.tokens, { skipSpecialTokens: true }) + '\n');
    const q = await cli([...args, '--quiet']);
    expect(q.stderr).toBe('');
  });
});
