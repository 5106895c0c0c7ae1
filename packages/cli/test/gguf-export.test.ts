/**
 * `export --format gguf|mixtral|llama-moe`, `export-check` and `inspect FILE.gguf` through the CLI:
 * a split 2-of-8 Mixtral-style MoE exports to a GGUF that a real llama.cpp (node-llama-cpp 3.21.1)
 * runs to the project's logits; LLaMA-MoE's default MLP gate is reported impossible for GGUF and
 * Mixtral, and `export` refuses it writing nothing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildMoeFromDense, defaultMoeSpec, loadAnyModel, randomPartition } from '@llama-moe/expert-partition/node';
import { loadTokenizer } from '@llama-moe/llama-model/node';
import { checkExportTargets } from '../src/commands/export-format.js';
import { compareLogits, openInLlamaCpp } from '@llama-moe/test-support/llama-cpp';
import { cli, listTree, tempDir, tinyModel } from './helpers.js';

let root: string, dense: string, mixtral: string, llamaMoe: string;
beforeAll(async () => {
  root = tempDir('llama-moe-gguf-');
  dense = await tinyModel(root);
  mixtral = path.join(root, 'mixtral');
  llamaMoe = path.join(root, 'llama-moe');
  for (const [out, fmt] of [[mixtral, 'mixtral'], [llamaMoe, 'llama-moe']]) {
    const r = await cli(['split', '--model', dense, '--out', out, '--experts', '8', '--top-k', '2', '--method', 'random', '--format', fmt, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
  }
}, 120_000);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('export to engines', () => {
  test('export-check: a Mixtral-style MoE is exact in every format; GGUF f16/bf16/q8_0 approximate with a measured difference', async () => {
    const r = await cli(['export-check', '--model', mixtral, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const t = Object.fromEntries((JSON.parse(r.stdout).targets as { target: string; status: string; reason: string | null; measured_rel_logit_diff: number | null }[]).map((x) => [x.target, x]));
    expect(t['llama-moe']!.status).toBe('exact');
    expect(t['mixtral']!.status).toBe('exact');
    expect(t['gguf:f32']!.status).toBe('exact');
    expect(t['qwen2_moe']!.status).toBe('exact');
    for (const q of ['gguf:f16', 'gguf:bf16', 'gguf:q8_0']) {
      expect(t[q]!.status).toBe('approximate');
      expect(t[q]!.measured_rel_logit_diff).toBeGreaterThan(0);
      expect(t[q]!.measured_rel_logit_diff).toBeLessThan(1);
    }
  });

  test('export --format gguf writes a GGUF that llama.cpp runs to the project\'s logits; inspect reads it', async () => {
    const file = path.join(root, 'out', 'mixtral.gguf');
    const r = await cli(['export', '--model', mixtral, '--format', 'gguf', '--out', file, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const ins = await cli(['inspect', file, '--json']);
    expect(ins.code, ins.stderr).toBe(0);
    const rep = JSON.parse(ins.stdout);
    expect(rep.architecture).toBe('llama');
    expect(rep.metadata['llama.expert_count']).toBe(8);
    expect(rep.metadata['tokenizer.ggml.tokens'].length).toBe(512);
    expect(rep.tensors.find((x: { name: string }) => x.name === 'blk.0.ffn_gate_exps.weight').shape).toEqual([8, 22, 64]);
    const text = await cli(['inspect', file]);
    expect(text.stdout).toContain('GGUF v3');
    const model = loadAnyModel(mixtral);
    const run = await openInLlamaCpp(file);
    try {
      const ids = [1, 17, 300, 42, 9, 77, 5, 260, 13, 99, 400, 2];
      const c = compareLogits(model.logits(Int32Array.from(ids)).f32(), await run.logits(ids), model.config.vocab_size);
      expect(c.maxDiff).toBeLessThanOrEqual(1e-4 * c.maxAbs);
    } finally {
      await run.dispose();
    }
  }, 60_000);

  test('export --format qwen2_moe writes Qwen2MoeForCausalLM with the tokenizer and generation config', async () => {
    const out = path.join(root, 'hf-qwen2_moe');
    const r = await cli(['export', '--model', mixtral, '--format', 'qwen2_moe', '--out', out, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'))).toMatchObject({ model_type: 'qwen2_moe', num_experts: 8, num_experts_per_tok: 2, norm_topk_prob: true });
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json', 'tokenizer.model']) expect(fs.existsSync(path.join(out, f)), f).toBe(true);
  });

  test('export-check states the cost of folding shared experts into GGUF; a missing special_tokens_map.json is written', async () => {
    const dm = loadAnyModel(dense);
    const F = dm.config.intermediate_size, L = dm.config.num_hidden_layers;
    const sizes = new Array(4).fill(32);
    const parts = Array.from({ length: L }, (_, l) => randomPartition(F, [...sizes, F - 128], { seed: 1, layer: l }).experts);
    const m = buildMoeFromDense(dm, { spec: { ...defaultMoeSpec(L, F, 4, 2), gateNetwork: 'linear', sizeExperts: parts.map(() => sizes), sizeSharedExperts: parts.map(() => [F - 128]) }, format: 'llama-moe', partition: parts.map((p) => p.slice(0, 4)), sharedPartition: parts.map((p) => p.slice(4)), gateInit: 'random', seed: 1 });
    const t = checkExportTargets(m, loadTokenizer(dense), { measure: false });
    const g = t.find((x) => x.target === 'gguf:f32')!;
    expect(g.status).toBe('exact');
    expect(g.reason).toBe(`shared experts folded into every routed expert: each grows from 32 to ${32 + F - 128} neurons (4× the shared weights stored, k× their compute per token)`);
    expect(t.find((x) => x.target === 'mixtral')!.status).toBe('impossible');
    expect(t.find((x) => x.target === 'qwen2_moe')!.status).toBe('exact');
    const src = path.join(root, 'mixtral-no-map');
    fs.cpSync(mixtral, src, { recursive: true });
    fs.rmSync(path.join(src, 'special_tokens_map.json'));
    const out = path.join(root, 'hf-from-no-map');
    expect((await cli(['export', '--model', src, '--format', 'llama-moe', '--out', out, '--quiet'])).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'special_tokens_map.json'), 'utf8'))).toMatchObject({ bos_token: { content: '<s>' }, eos_token: { content: '</s>' }, unk_token: { content: '<unk>' } });
  });

  test('export --format mixtral / llama-moe write loadable HF folders with the tokenizer', async () => {
    for (const fmt of ['mixtral', 'llama-moe']) {
      const out = path.join(root, `hf-${fmt}`);
      const r = await cli(['export', '--model', mixtral, '--format', fmt, '--out', out, '--quiet']);
      expect(r.code, r.stderr).toBe(0);
      expect(fs.existsSync(path.join(out, 'tokenizer.json'))).toBe(true);
      const a = loadAnyModel(mixtral).logits([1, 5, 9]).f32(), b = loadAnyModel(out).logits([1, 5, 9]).f32();
      let d = 0;
      for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
      expect(d).toBeLessThan(1e-5);
    }
  });

  test('the default LLaMA-MoE MLP gate: export-check says why GGUF and Mixtral are impossible; export refuses, writing nothing', async () => {
    const r = await cli(['export-check', '--model', llamaMoe]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/gguf:f32\s+impossible\s+layer 0: llama\.cpp's router is one linear layer; gate_network 'mlp'/);
    expect(r.stdout).toMatch(/mixtral\s+impossible\s+Mixtral's router is a single linear layer/);
    expect(r.stdout).toMatch(/llama-moe\s+exact/);
    expect(r.stdout).toMatch(/qwen2_moe\s+impossible\s+layer 0: qwen2_moe's router is one linear layer/);
    const outDir = path.join(root, 'refused');
    fs.mkdirSync(outDir);
    const e = await cli(['export', '--model', llamaMoe, '--format', 'gguf', '--out', path.join(outDir, 'x.gguf')]);
    expect(e.code).not.toBe(0);
    expect(e.stderr).toMatch(/--format gguf: cannot export .* exactly: layer 0: llama\.cpp's router is one linear layer/);
    const m = await cli(['export', '--model', llamaMoe, '--format', 'mixtral', '--out', path.join(outDir, 'mx')]);
    expect(m.code).not.toBe(0);
    expect(listTree(outDir)).toEqual([]);
  });

  test('GGUF as a source: logits and generate on a dense F32 GGUF equal the folder\'s; split reads it; F16 loads dequantized', async () => {
    const file = path.join(root, 'dense-f32.gguf');
    expect((await cli(['export', '--model', dense, '--format', 'gguf', '--out', file, '--quiet'])).code).toBe(0);
    const a = await cli(['logits', '--model', dense, '--prompt', 'Once upon a time, the experts', '--out', path.join(root, 'a.npy'), '--json']);
    const b = await cli(['logits', '--model', file, '--prompt', 'Once upon a time, the experts', '--out', path.join(root, 'b.npy'), '--json']);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(fs.readFileSync(path.join(root, 'b.npy'))).toEqual(fs.readFileSync(path.join(root, 'a.npy')));
    const g1 = await cli(['generate', '--model', dense, '--prompt', 'The model', '--max-new-tokens', '12', '--temperature', '0', '--json']);
    const g2 = await cli(['generate', '--model', file, '--prompt', 'The model', '--max-new-tokens', '12', '--temperature', '0', '--json']);
    expect(g2.code, g2.stderr).toBe(0);
    expect(JSON.parse(g2.stdout).tokens).toEqual(JSON.parse(g1.stdout).tokens);
    const moe = path.join(root, 'from-gguf-moe');
    const s = await cli(['split', '--model', file, '--out', moe, '--experts', '4', '--top-k', '2', '--method', 'random', '--quiet']);
    expect(s.code, s.stderr).toBe(0);
    expect(fs.existsSync(path.join(moe, 'tokenizer.json'))).toBe(true);
    expect(fs.readdirSync(root).filter((n) => n.includes('.gguf-source-'))).toEqual([]);
    // A GGUF re-exported (here to q8_0) and checked, with the tokenizer it carries.
    const chk = await cli(['export-check', '--model', file, '--json']);
    expect(chk.code, chk.stderr).toBe(0);
    expect(JSON.parse(chk.stdout).targets.find((t: { target: string }) => t.target === 'gguf:f32').status).toBe('exact');
    expect((await cli(['export', '--model', file, '--format', 'gguf', '--outtype', 'q8_0', '--out', path.join(root, 're.gguf'), '--quiet'])).code).toBe(0);
    const f16 = path.join(root, 'dense-f16.gguf');
    expect((await cli(['export', '--model', dense, '--format', 'gguf', '--outtype', 'f16', '--out', f16, '--quiet'])).code).toBe(0);
    expect((await cli(['logits', '--model', f16, '--tokens', '1,5,9', '--out', path.join(root, 'c.npy')])).code).toBe(0);
  }, 60_000);

  test('split --format gguf / qwen2_moe: the same split as --format llama-moe --gate-network linear, exported exactly', async () => {
    const ref = path.join(root, 'split-linear');
    const base = ['--model', dense, '--experts', '8', '--top-k', '2', '--method', 'clustering', '--seed', '3', '--quiet'];
    expect((await cli(['split', ...base, '--out', ref, '--gate-network', 'linear'])).code).toBe(0);
    const file = path.join(root, 'split.gguf');
    const r = await cli(['split', ...base, '--out', file, '--format', 'gguf']);
    expect(r.code, r.stderr).toBe(0);
    const q = path.join(root, 'split-qwen');
    expect((await cli(['split', ...base, '--out', q, '--format', 'qwen2_moe'])).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(q, 'config.json'), 'utf8')).model_type).toBe('qwen2_moe');
    expect(fs.readdirSync(root).filter((n) => n.includes('.split-'))).toEqual([]);
    const model = loadAnyModel(ref);
    const run = await openInLlamaCpp(file);
    try {
      const ids = [1, 40, 7, 300, 12, 99, 5];
      const c = compareLogits(model.logits(Int32Array.from(ids)).f32(), await run.logits(ids), model.config.vocab_size);
      expect(c.maxDiff).toBeLessThanOrEqual(1e-4 * c.maxAbs);
    } finally {
      await run.dispose();
    }
    const bad = await cli(['split', ...base, '--out', path.join(root, 'x.gguf'), '--format', 'gguf', '--gate-network', 'mlp']);
    expect(bad.code).toBe(2);
  }, 60_000);

  test('a dense model exports to GGUF; the PyTorch training export still needs --data', async () => {
    const file = path.join(root, 'dense.gguf');
    expect((await cli(['export', '--model', dense, '--format', 'gguf', '--outtype', 'q8_0', '--out', file, '--quiet'])).code).toBe(0);
    const rep = JSON.parse((await cli(['inspect', file, '--json'])).stdout);
    expect(rep.types.Q8_0).toBeGreaterThan(0);
    const r = await cli(['export', '--model', dense, '--out', path.join(root, 'pt')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--data is required for the PyTorch training export/);
    const o = await cli(['export', '--model', dense, '--outtype', 'q8_0', '--out', path.join(root, 'pt2')]);
    expect(o.code).toBe(2);
    expect(o.stderr).toMatch(/--outtype applies to --format gguf only/);
  });
});
