/**
 * The router's gates from the command line: split --gate switch (capacity, token dropping) and
 * --balance-loss-weight are stored in config.json; such a model trains, saves, loads, generates,
 * and its dropped tokens are counted per layer (train metrics, routing).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateCorpus, writeCorpus } from '@llama-moe/data-sampler';
import { openCheckpoint } from '@llama-moe/llama-model/node';
import { cli, tempDir, tinyModel } from './helpers.js';

let root: string, model: string, packed: string, sw: string;

beforeAll(async () => {
  root = tempDir();
  model = await tinyModel(root);
  const corpus = path.join(root, 'corpus');
  await writeCorpus(corpus, generateCorpus({ seed: 12, docsPerDomain: 16, domains: ['wikipedia', 'github'] }));
  packed = path.join(root, 'packed');
  expect((await cli(['data', 'prepare', '--input', corpus, '--tokenizer', model, '--seq-len', '32', '--out', packed, '--quiet'])).code).toBe(0);
  sw = path.join(root, 'switch');
  const r = await cli(['split', '--model', model, '--out', sw, '--experts', '4', '--top-k', '1', '--method', 'random', '--gate', 'switch', '--capacity-factor', '0.5', '--balance-loss-weight', '0.05', '--quiet']);
  if (r.code !== 0) throw new Error(r.stderr);
}, 120_000);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('switch gate from the CLI', () => {
  test('split writes the switch gate, its capacity and balance weight to config.json, and no noise network', () => {
    const cfg = JSON.parse(fs.readFileSync(path.join(sw, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ gate_type: 'SwitchBalancedGate', calculator_type: 'SwitchDropTokenCalculator', capacity_factor: 0.5, gate_balance_loss_weight: 0.05, num_selects: 1 });
    const ck = openCheckpoint(sw);
    try {
      expect(ck.keys().filter((k) => k.includes('weight_noise'))).toEqual([]);
    } finally {
      ck.close();
    }
  });

  test('trains (dropped tokens per layer in metrics.jsonl), saves, loads and generates; routing counts the drops', async () => {
    const run = path.join(root, 'run');
    const conf = path.join(root, 'train.yaml');
    fs.writeFileSync(conf, `model: ${sw}\ndata: ${packed}\noutput_dir: ${run}\nmax_steps: 3\nbatch_size: 2\nwarmup_steps: 1\nstats_every: 1\neval_every: 0\neval_blocks: 1\nsave_every: 3\n`);
    const t = await cli(['train', '--config', conf, '--quiet']);
    expect(t.code, t.stderr).toBe(0);
    const recs = fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.kind === 'train');
    expect(recs).toHaveLength(3);
    for (const r of recs) {
      expect(r.dropped_tokens).toHaveLength(2);
      // capacity floor(0.5 · 64 / 4) = 8 per expert: at most 32 of the 64 tokens of a step are served.
      for (const d of r.dropped_tokens) expect(d).toBeGreaterThanOrEqual(32);
      expect(r.balance_loss).toBeGreaterThan(0);
    }
    const final = path.join(run, 'final');
    expect(JSON.parse(fs.readFileSync(path.join(final, 'config.json'), 'utf8')).gate_type).toBe('SwitchBalancedGate');
    const g = await cli(['generate', '--model', final, '--tokens', '1,5,9', '--max-new-tokens', '3', '--json']);
    expect(g.code, g.stderr).toBe(0);
    const r = await cli(['routing', '--model', final, '--data', packed, '--max-blocks', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    for (const L of j.layers) for (const s of Object.values(L.domains) as { dropped: number; counts: number[]; tokens: number }[]) {
      expect(s.dropped).toBeGreaterThan(0);
      expect(s.counts.reduce((a, b) => a + b, 0) + s.dropped).toBe(s.tokens);
    }
  });

  test('--gate switch needs --top-k 1; --capacity-factor needs --gate switch (usage errors)', async () => {
    const a = await cli(['split', '--model', model, '--out', path.join(root, 'x'), '--experts', '4', '--top-k', '2', '--method', 'random', '--gate', 'switch']);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('--gate switch routes every token to one expert; pass --top-k 1');
    const b = await cli(['split', '--model', model, '--out', path.join(root, 'y'), '--experts', '4', '--top-k', '2', '--method', 'random', '--capacity-factor', '2']);
    expect(b.code).toBe(2);
  });

  test('--z-loss-weight: stored in config.json, loaded back, and added to the balance loss in training', async () => {
    const losses: number[] = [];
    for (const [name, extra] of [['noz', []], ['z', ['--z-loss-weight', '0.5']]] as const) {
      const moe = path.join(root, `gate-${name}`);
      const s = await cli(['split', '--model', model, '--out', moe, '--experts', '4', '--top-k', '2', '--method', 'random', '--quiet', ...extra]);
      expect(s.code, s.stderr).toBe(0);
      const cfg = JSON.parse(fs.readFileSync(path.join(moe, 'config.json'), 'utf8'));
      expect(cfg.gate_z_loss_weight).toBe(name === 'z' ? 0.5 : undefined);
      const conf = path.join(root, `${name}.yaml`);
      const run = path.join(root, `run-${name}`);
      fs.writeFileSync(conf, `model: ${moe}\ndata: ${packed}\noutput_dir: ${run}\nmax_steps: 1\nbatch_size: 2\nwarmup_steps: 1\neval_every: 0\neval_blocks: 1\n`);
      expect((await cli(['train', '--config', conf, '--quiet'])).code).toBe(0);
      losses.push(JSON.parse(fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').split('\n')[0]!).balance_loss);
      if (name === 'z') expect(JSON.parse(fs.readFileSync(path.join(run, 'final', 'config.json'), 'utf8')).gate_z_loss_weight).toBe(0.5);
    }
    // Same weights and noise: the difference is the z-loss, 0.5 · 2 layers · mean(lse²) > 0 (lse ≈ ln 4 for a fresh gate).
    expect(losses[1]! - losses[0]!).toBeGreaterThan(0.5 * 2 * Math.log(4) ** 2 * 0.5);
  });

  test('the training config sets the gate losses: balance_loss_weight trains with it and is saved; capacity_factor needs a switch or expert-choice gate', async () => {
    const moe = path.join(root, 'gate-noz');
    const conf = path.join(root, 'bal.yaml');
    const run = path.join(root, 'run-bal');
    fs.writeFileSync(conf, `model: ${moe}\ndata: ${packed}\noutput_dir: ${run}\nmax_steps: 1\nbatch_size: 2\nwarmup_steps: 1\neval_every: 0\neval_blocks: 1\nbalance_loss_weight: 0.5\n`);
    const t = await cli(['train', '--config', conf, '--quiet']);
    expect(t.code, t.stderr).toBe(0);
    const withW = JSON.parse(fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').split('\n')[0]!).balance_loss;
    const base = JSON.parse(fs.readFileSync(path.join(root, 'run-noz', 'metrics.jsonl'), 'utf8').split('\n')[0]!).balance_loss;
    expect(withW / base).toBeCloseTo(0.5 / 0.01, 3);
    expect(JSON.parse(fs.readFileSync(path.join(run, 'final', 'config.json'), 'utf8')).gate_balance_loss_weight).toBe(0.5);
    const bad = await cli(['train', '--config', conf, '--output-dir', path.join(root, 'run-cap'), '--capacity-factor', '2']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^llama-moe train: config\.capacity_factor: only a switch or expert-choice gate has a capacity/);
  });

  test('--gate expert-choice: each expert picks floor(k · T / E) tokens; trains, saves, loads, generates; routing counts unchosen tokens', async () => {
    const ec = path.join(root, 'ec');
    const s = await cli(['split', '--model', model, '--out', ec, '--experts', '4', '--top-k', '2', '--method', 'random', '--gate', 'expert-choice', '--quiet']);
    expect(s.code, s.stderr).toBe(0);
    const cfg = JSON.parse(fs.readFileSync(path.join(ec, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ gate_type: 'ExpertChoiceGate', capacity_factor: 2 });
    const run = path.join(root, 'run-ec');
    const conf = path.join(root, 'ec.yaml');
    fs.writeFileSync(conf, `model: ${ec}\ndata: ${packed}\noutput_dir: ${run}\nmax_steps: 2\nbatch_size: 2\nwarmup_steps: 1\nstats_every: 1\neval_every: 0\neval_blocks: 1\n`);
    const t = await cli(['train', '--config', conf, '--quiet']);
    expect(t.code, t.stderr).toBe(0);
    const recs = fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.kind === 'train');
    for (const r of recs) {
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(r.balance_loss).toBe(0);
      // 64 tokens, 4 experts, capacity factor 2: every expert takes exactly 32.
      for (const layer of r.expert_load) expect(layer).toEqual([32, 32, 32, 32]);
    }
    const final = path.join(run, 'final');
    expect((await cli(['generate', '--model', final, '--tokens', '1,5,9', '--max-new-tokens', '3', '--json'])).code).toBe(0);
    const r = await cli(['routing', '--model', final, '--data', packed, '--max-blocks', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    for (const L of JSON.parse(r.stdout).layers) for (const d of Object.values(L.domains) as { counts: number[]; tokens: number; dropped: number }[]) {
      expect(d.counts.reduce((a, b) => a + b, 0)).toBe(2 * d.tokens);
      expect(d.dropped).toBeGreaterThanOrEqual(0);
    }
  });
});

