/** `llama-moe demo --quick` end to end in-process, its output folder, and the pieces it is built from. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { main } from '../src/main.js';
import { memoryIO } from '../src/io.js';
import { demoBudget, DEMO_VARIANTS } from '../src/commands/demo.js';
import { DEMO_RECIPE } from '../src/demo/recipe.js';
import { BROWN_RECIPE } from '../src/brown/recipe.js';
import { brownModelDir } from '../src/demo/assets.js';
import { BROWN_DOMAINS } from '@llama-moe/data-sampler';
import { buildFolderAtomically } from '../src/demo/staging.js';
import { renderIndexHtml, renderSummaryMarkdown, renderSummaryText, summaryRows } from '../src/demo/summary.js';
import type { ExperimentSummary } from '../src/demo/experiment.js';
import { listTree, tempDir } from './helpers.js';

let root: string;
let out: string;
let run: { code: number; stdout: string; stderr: string; seconds: number };

/** Every href / src in an HTML page. */
function links(html: string): string[] {
  return [...html.matchAll(/\b(?:href|src)\s*=\s*"([^"]*)"/g)].map((m) => m[1]!);
}

/** No network access needed to render: no absolute URL, no external script / stylesheet / font. */
function expectSelfContained(html: string, file: string): void {
  expect(html, file).toMatch(/^<!doctype html>/i);
  // XML namespace names are identifiers, not fetched.
  const body = html.replace(/\sxmlns(?::\w+)?="[^"]*"/g, '');
  expect(body, file).not.toMatch(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}\//i);
  expect(body, file).not.toMatch(/<script[^>]*\bsrc=/i);
  expect(body, file).not.toMatch(/<link[^>]*stylesheet/i);
  expect(body, file).not.toMatch(/@import|url\(\s*['"]?https?:/i);
}

beforeAll(async () => {
  root = tempDir('llama-moe-demo-');
  out = path.join(root, 'demo');
  const io = memoryIO();
  const t0 = performance.now();
  const code = await main(['demo', '--quick', '--out', out], io);
  run = { code, stdout: io.stdoutText(), stderr: io.stderrText(), seconds: (performance.now() - t0) / 1000 };
}, 180_000);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('llama-moe demo --quick', () => {
  test('exits 0, prints the table and ends with the report path', () => {
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines.at(-1)).toBe(`report: ${path.join(path.resolve(out), 'index.html')}`);
    for (const v of DEMO_VARIANTS) expect(run.stdout).toContain(`${v.method}-${v.topK}of${v.experts}`);
    // Progress went to stderr, not stdout.
    expect(run.stderr).toMatch(/== \[1\/2\] random-2of8: split/);
    expect(run.stdout).not.toMatch(/^== /m);
    // A smoke test: a small fraction of the full demo's 5-minute bound.
    expect(run.seconds).toBeLessThan(150);
  });

  test('summary: finite perplexities, and each MoE improves with training', () => {
    const s = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as ExperimentSummary & { mode: string };
    expect(s.mode).toBe('quick');
    expect(s.budget).toEqual(demoBudget(true));
    expect(s.domains).toEqual([...BROWN_DOMAINS]);
    expect(s.corpus).toMatchObject({ preset: 'brown' });
    expect(s.runs.map((r) => r.name)).toEqual(['random-2of8', 'clustering-2of8']);
    const finite = (r: { overall: { ppl: number }; perDomain: Record<string, { ppl: number }> }) => {
      expect(Number.isFinite(r.overall.ppl) && r.overall.ppl > 1).toBe(true);
      expect(Object.keys(r.perDomain).sort()).toEqual([...s.domains].sort());
      for (const d of Object.values(r.perDomain)) expect(Number.isFinite(d.ppl) && d.ppl > 1).toBe(true);
    };
    finite(s.dense);
    for (const r of s.runs) {
      finite(r.before);
      finite(r.after);
      expect(r.kind).toBe('moe');
      expect(r.after.overall.ppl, r.name).toBeLessThan(r.before.overall.ppl);
      expect(r.trainLoss.last, r.name).toBeLessThan(r.trainLoss.first);
      expect(r.tokens).toBe(s.budget.steps * s.budget.batchSize * s.budget.seqLen);
      // Perplexity is exp(mean NLL) over the same validation tokens for every model.
      expect(r.after.overall.tokens).toBe(s.dense.overall.tokens);
      expect(Math.abs(Math.log(r.after.overall.ppl) - r.after.overall.loss)).toBeLessThan(1e-9);
    }
    expect(s.dense.overall.tokens).toBe(s.domains.length * s.validation.blocksPerDomain * (s.validation.seqLen - 1));
    // A test-set prompt, continued by the dense model and by each MoE after the split and after training.
    expect(s.continuation!.prompt.split(' ').length).toBeGreaterThanOrEqual(8);
    expect(s.continuation!.dense.length).toBeGreaterThan(0);
    for (const r of s.runs) {
      expect(r.continuation!.split!.length, r.name).toBeGreaterThan(0);
      expect(r.continuation!.trained.length, r.name).toBeGreaterThan(0);
    }
    expect(run.stdout).toContain(`Greedy continuations of a test-set prompt`);
    expect(run.stdout).toContain(`  prompt: ${s.continuation!.prompt}\n`);
  });

  test('every report exists, is self-contained, and index.html links only to files that exist', () => {
    const s = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as ExperimentSummary;
    const index = fs.readFileSync(path.join(out, 'index.html'), 'utf8');
    expectSelfContained(index, 'index.html');
    const hrefs = links(index);
    for (const r of s.runs) {
      expect(hrefs).toContain(r.paths.report);
      const report = fs.readFileSync(path.join(out, r.paths.report), 'utf8');
      expectSelfContained(report, r.paths.report);
      expect(report).toContain('<svg');
      expect(fs.existsSync(path.join(out, r.paths.metrics))).toBe(true);
      // The trained checkpoint and the split model are complete Hugging Face LLaMA-MoE folders.
      for (const dir of [r.paths.model, r.paths.init!]) {
        const cfg = JSON.parse(fs.readFileSync(path.join(out, dir, 'config.json'), 'utf8'));
        expect(cfg.model_type, dir).toBe('llama_moe');
        expect(fs.existsSync(path.join(out, dir, 'tokenizer.json')), dir).toBe(true);
      }
    }
    for (const h of hrefs) expect(fs.existsSync(path.join(out, h)), h).toBe(true);
    const txt = fs.readFileSync(path.join(out, 'summary.txt'), 'utf8');
    expect(txt.startsWith(renderSummaryText(s))).toBe(true);
    expect(txt).toContain(`  prompt: ${s.continuation!.prompt}\n`);
    // The index shows the chart and every continuation.
    expect(index).toContain('aria-label="perplexity per domain"');
    for (const r of s.runs) expect(index).toContain(r.continuation!.trained.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;'));
  });

  test('the folder appeared atomically: no staging folder is left beside it', () => {
    expect(fs.readdirSync(root)).toEqual(['demo']);
  });
});

describe('llama-moe demo: output folder rules', () => {
  test('refuses a non-empty --out, and --overwrite refuses a folder that is not a previous demo', async () => {
    const dir = path.join(root, 'busy');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'keep.txt'), 'mine');
    const before = listTree(root);
    for (const extra of [[], ['--overwrite']]) {
      const io = memoryIO();
      const code = await main(['demo', '--quick', '--out', dir, ...extra], io);
      expect(code).toBe(1);
      expect(io.stderrText()).toMatch(/^llama-moe demo: --out .*busy: .*\(.*\)\n$/);
      expect(listTree(root)).toEqual(before);
    }
    fs.rmSync(dir, { recursive: true });
  });

  test('--overwrite replaces a previous demo folder', async () => {
    const marker = path.join(out, 'summary.json');
    const old = fs.readFileSync(marker, 'utf8');
    const io = memoryIO();
    const code = await main(['demo', '--quick', '--steps', '2', '--quiet', '--out', out, '--overwrite'], io);
    expect(code, io.stderrText()).toBe(0);
    expect(io.stderrText()).toBe('');
    const s = JSON.parse(fs.readFileSync(marker, 'utf8')) as ExperimentSummary;
    expect(s.budget.steps).toBe(2);
    expect(fs.readFileSync(marker, 'utf8')).not.toBe(old);
    expect(fs.readdirSync(root)).toEqual(['demo']);
  }, 120_000);

  test('a bad --model fails before anything is written', async () => {
    const io = memoryIO();
    const code = await main(['demo', '--quick', '--model', path.join(root, 'nope'), '--out', path.join(root, 'x')], io);
    expect(code).toBe(1);
    expect(io.stderrText()).toMatch(/^llama-moe demo: --model .*nope: model folder does not exist/);
    expect(fs.existsSync(path.join(root, 'x'))).toBe(false);
  });
});

describe('demo pieces', () => {
  test('the shipped Brown model is a small dense LLaMA (≤ 12 MB) whose FFN splits evenly into 8 and 16 experts, made by its recipe', () => {
    const dir = brownModelDir();
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(cfg.model_type).toBe('llama');
    expect(cfg.intermediate_size % 16).toBe(0);
    expect(cfg.num_key_value_heads).toBeLessThan(cfg.num_attention_heads);
    for (const k of ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'vocab_size']) expect(cfg[k], k).toBe(BROWN_RECIPE.model[k]);
    const bytes = fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
    expect(bytes).toBeLessThan(12 * 1024 * 1024);
    const results = JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8'));
    expect(results.steps).toBe(BROWN_RECIPE.pretrain.steps);
    expect(fs.readFileSync(path.join(dir, 'README.md'), 'utf8')).toContain(`${BROWN_RECIPE.pretrain.steps} steps × ${BROWN_RECIPE.pretrain.batchSize} sequences`);
  });

  test('demoBudget: --steps sets the length; evaluation and warm-up fit inside it', () => {
    fc.assert(fc.property(fc.boolean(), fc.option(fc.integer({ min: 1, max: 5000 }), { nil: undefined }), (quick, steps) => {
      const b = demoBudget(quick, steps);
      const base = quick ? BROWN_RECIPE.quick : BROWN_RECIPE.demo;
      expect(b.steps).toBe(steps ?? base.steps);
      expect(b.evalEvery).toBeGreaterThanOrEqual(1);
      expect(b.evalEvery).toBeLessThanOrEqual(b.steps);
      expect(b.warmupSteps).toBeLessThan(Math.max(b.steps, 1));
      expect({ ...b, steps: 0, evalEvery: 0, warmupSteps: 0 }).toEqual({ ...base, steps: 0, evalEvery: 0, warmupSteps: 0 });
    }));
  });

  test('buildFolderAtomically: a failing build leaves the target exactly as it was', async () => {
    await fc.assert(fc.asyncProperty(fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 3 }), async (exists, replace, files) => {
      const dir = tempDir('llama-moe-stage-');
      const target = path.join(dir, 'out');
      if (exists) {
        fs.mkdirSync(target);
        fs.writeFileSync(path.join(target, 'old.txt'), 'old');
      }
      const before = listTree(dir);
      await expect(buildFolderAtomically(target, async (s) => {
        for (let i = 0; i < files; i++) fs.writeFileSync(path.join(s, `f${i}`), String(i));
        throw new Error('boom');
      }, { replace })).rejects.toThrow('boom');
      expect(listTree(dir)).toEqual(before);
      // And a successful one with replace swaps the contents in one rename.
      if (replace || !exists) {
        await buildFolderAtomically(target, async (s) => fs.writeFileSync(path.join(s, 'new.txt'), 'new'), { replace });
        expect(listTree(dir)).toEqual(['out', path.join('out', 'new.txt')]);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }), { numRuns: 20 });
  });

  test('summary tables: one dense row, two rows per MoE and one per dense control, in every rendering', () => {
    const rep = (ppl: number) => ({ overall: { loss: Math.log(ppl), ppl, tokens: 10 }, perDomain: { a: { loss: Math.log(ppl), ppl, tokens: 5 }, b: { loss: Math.log(ppl + 1), ppl: ppl + 1, tokens: 5 } } });
    fc.assert(fc.property(fc.array(fc.record({ moe: fc.boolean(), before: fc.double({ min: 1.5, max: 1e4, noNaN: true }), after: fc.double({ min: 1.5, max: 1e4, noNaN: true }) }), { maxLength: 5 }), (rs) => {
      const s = {
        created: 'now', denseModel: 'dense', backend: 'cpu', machine: { cpus: 2, cpuModel: 'x', memoryGiB: 1, platform: 'p', node: 'v' },
        corpus: { ...DEMO_RECIPE.corpus, bytes: 1, description: 'synthetic' }, budget: DEMO_RECIPE.quick, seed: 0, domains: ['a', 'b'], validation: { blocksPerDomain: 1, seqLen: 6, tokensPerDomain: 5 },
        dense: rep(10), seconds: { total: 1, data: 0, denseEval: 0, runs: {} },
        runs: rs.map((r, i) => ({
          name: `run<${i}>`, kind: r.moe ? 'moe' : 'dense', method: r.moe ? 'random' : 'dense', experts: r.moe ? 8 : 1, topK: r.moe ? 2 : 1, activeFfnFraction: 0.25,
          before: rep(r.before), after: rep(r.after), trainLoss: { first: 2, last: 1 }, tokens: 100, trainSeconds: 1, finalDomainWeights: {},
          paths: { init: r.moe ? `runs/${i}/init` : null, model: `runs/${i}/m`, report: `runs/${i}/report.html`, metrics: `runs/${i}/metrics.jsonl` },
        })),
      } as unknown as ExperimentSummary;
      const n = 1 + rs.reduce((k, r) => k + (r.moe ? 2 : 1), 0);
      expect(summaryRows(s)).toHaveLength(n);
      expect(renderSummaryText(s).trimEnd().split('\n')).toHaveLength(n + 2);
      expect(renderSummaryMarkdown(s).trimEnd().split('\n')).toHaveLength(n + 2);
      const html = renderIndexHtml(s);
      expectSelfContained(html, 'index.html');
      expect(html.match(/<tr/g)).toHaveLength(n + 1);
      // Names are escaped.
      expect(html).not.toContain('run<');
    }));
  });
});
