/**
 * The whole pipeline through the CLI, in-process: init → data prepare → split (random, and a
 * data-driven method) → generate → train from a YAML config → eval → merge-experts → export.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateCorpus, writeCorpus } from '@llama-moe/data-sampler';
import { loadLlama, openCheckpoint } from '@llama-moe/llama-model/node';
import { cli, listTree, tempDir, tinyModel } from './helpers.js';

let root: string, model: string, packed: string, moe: string;

beforeAll(async () => {
  root = tempDir();
  model = await tinyModel(root);
  const corpus = path.join(root, 'corpus');
  await writeCorpus(corpus, generateCorpus({ seed: 3, docsPerDomain: 30, domains: ['wikipedia', 'github', 'arxiv', 'book'] }));
  packed = path.join(root, 'packed');
  const r = await cli(['data', 'prepare', '--input', corpus, '--tokenizer', path.join(model, 'tokenizer.json'), '--seq-len', '32', '--out', packed, '--quiet']);
  if (r.code !== 0) throw new Error(r.stderr);
  moe = path.join(root, 'moe');
}, 120_000);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('MoE pipeline through the CLI', () => {
  test('split random → a loadable llama_moe folder; generate runs on it', async () => {
    const r = await cli(['split', '--model', model, '--out', moe, '--experts', '4', '--top-k', '2', '--method', 'random', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const cfg = JSON.parse(fs.readFileSync(path.join(moe, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ model_type: 'llama_moe', num_experts: 4, num_selects: 2 });
    expect(fs.existsSync(path.join(moe, 'tokenizer.json'))).toBe(true);
    const g = await cli(['generate', '--model', moe, '--tokens', '1,5,9', '--max-new-tokens', '5', '--json']);
    expect(g.code, g.stderr).toBe(0);
    expect(JSON.parse(g.stdout).tokens).toHaveLength(5);
  });

  test('split gradient with calibration data from the packed dataset (one domain per expert)', async () => {
    const out = path.join(root, 'moe-grad');
    const r = await cli(['split', '--model', model, '--out', out, '--experts', '4', '--top-k', '1', '--method', 'gradient', '--data', packed, '--calibration-sequences', '8', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const part = JSON.parse(fs.readFileSync(path.join(out, 'llama_moe_partition.json'), 'utf8'));
    expect(part.method).toBe('gradient');
    expect(part.experts[0].flat().length).toBe(176);
  });

  test('split carve (shared expert, ridge router, --recalibrate) and drop-upcycle from the CLI', async () => {
    const out = path.join(root, 'moe-carve');
    const r = await cli(['split', '--model', model, '--out', out, '--experts', '4', '--top-k', '2', '--method', 'carve', '--data', packed, '--calibration-sequences', '6', '--recalibrate']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/router fit: relative error of each layer's output vs the dense FFN on calibration tokens: \d\.\d{3} \d\.\d{3}; after --recalibrate: \d\.\d{3} \d\.\d{3}\n/);
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ model_type: 'llama_moe', gate_network: 'linear', num_experts: 4, num_selects: 2, score_scale_factor: 2, size_shared_experts: [[35], [35]] });
    const part = JSON.parse(fs.readFileSync(path.join(out, 'llama_moe_partition.json'), 'utf8'));
    expect(part.method).toBe('carve');
    expect(part.experts[0].flat().length + part.shared_experts[0].flat().length).toBe(176);
    const g = await cli(['generate', '--model', out, '--tokens', '1,5,9', '--max-new-tokens', '3', '--json']);
    expect(g.code, g.stderr).toBe(0);
    // a carved model exports to the engines' formats (linear gate; qwen2_moe keeps the shared expert, GGUF folds it)
    for (const [format, name] of [['qwen2_moe', 'carve-qwen'], ['gguf', 'carve.gguf']] as const) {
      const x = await cli(['split', '--model', model, '--out', path.join(root, name), '--experts', '4', '--top-k', '2', '--method', 'carve', '--data', packed, '--calibration-sequences', '6', '--format', format, '--quiet']);
      expect(x.code, x.stderr).toBe(0);
    }
    expect(JSON.parse(fs.readFileSync(path.join(root, 'carve-qwen', 'config.json'), 'utf8')).model_type).toBe('qwen2_moe');
    expect(fs.statSync(path.join(root, 'carve.gguf')).size).toBeGreaterThan(0);
    const d = await cli(['split', '--model', model, '--out', path.join(root, 'moe-drop'), '--experts', '2', '--top-k', '1', '--method', 'drop-upcycle', '--drop-ratio', '0.25', '--quiet']);
    expect(d.code, d.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(root, 'moe-drop', 'llama_moe_partition.json'), 'utf8')).experts).toBeNull();
    const bad = await cli(['split', '--model', model, '--out', path.join(root, 'never-carve'), '--experts', '4', '--top-k', '2', '--method', 'carve']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--method carve needs calibration data/);
    expect(fs.existsSync(path.join(root, 'never-carve'))).toBe(false);
  });

  test('train from a YAML config, eval, merge-experts and export', async () => {
    const run = path.join(root, 'run');
    const conf = path.join(root, 'train.yaml');
    fs.writeFileSync(conf, `model: ${moe}\ndata: ${packed}\noutput_dir: ${run}\nlr: 0.003\nwarmup_steps: 2\nmax_steps: 6\nbatch_size: 2\neval_every: 3\neval_blocks: 2\nsave_every: 3\nseed: 1\ndomain_weights: uniform\n`);
    const t = await cli(['train', '--config', conf, '--max-steps', '6', '--quiet']);
    expect(t.code, t.stderr).toBe(0);
    const ckpts = fs.readdirSync(run).filter((f) => f.startsWith('checkpoint-'));
    expect(ckpts).toContain('checkpoint-6');
    const final = path.join(run, 'checkpoint-6');
    expect(JSON.parse(fs.readFileSync(path.join(final, 'config.json'), 'utf8')).model_type).toBe('llama_moe');
    expect(fs.existsSync(path.join(run, 'report.html'))).toBe(true);

    const e = await cli(['eval', '--model', final, '--data', packed, '--max-blocks', '2', '--json']);
    expect(e.code, e.stderr).toBe(0);
    const m = JSON.parse(e.stdout).metrics;
    expect(Object.keys(m)).toEqual(expect.arrayContaining(['wikipedia', 'github', 'overall']));

    const dense = path.join(root, 'merged');
    const mg = await cli(['merge-experts', '--model', moe, '--out', dense, '--quiet']);
    expect(mg.code, mg.stderr).toBe(0);
    // split → merge returns the original weights bit for bit.
    const a = openCheckpoint(model), b = openCheckpoint(dense);
    for (const k of a.keys()) expect(Buffer.from(a.readRaw(k)).equals(Buffer.from(b.readRaw(k))), k).toBe(true);
    a.close(); b.close();
    expect(loadLlama(dense).config.intermediate_size).toBe(176);

    const ex = path.join(root, 'export');
    const x = await cli(['export', '--model', final, '--data', packed, '--out', ex, '--zero-stage', '3', '--quiet']);
    expect(x.code, x.stderr).toBe(0);
    const tree = listTree(ex);
    expect(tree).toEqual(expect.arrayContaining(['model/config.json', 'data/llama_moe_dataset.json', 'ds_zero3.json', 'accelerate_config.yaml', 'train_hf.py', 'launch.sh']));
  });

  test('train errors are one line: a missing key, an unknown key', async () => {
    const conf = path.join(root, 'bad.yaml');
    fs.writeFileSync(conf, `data: ${packed}\noutput_dir: ${path.join(root, 'never')}\n`);
    const r = await cli(['train', '--config', conf]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/'model' is required/);
    fs.writeFileSync(conf, `model: ${moe}\ndata: ${packed}\noutput_dir: ${path.join(root, 'never')}\nlearning_rat: 1\n`);
    const r2 = await cli(['train', '--config', conf]);
    expect(r2.code).not.toBe(0);
    expect(r2.stderr.trim().split('\n')).toHaveLength(1);
    expect(fs.existsSync(path.join(root, 'never'))).toBe(false);
  });
});
