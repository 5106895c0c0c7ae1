#!/usr/bin/env node
// Writes the playground's default model (default: public/demo-model, served by `vite dev` at
// /demo-model/): the dense Brown model that ships with the CLI (packages/cli/assets/brown-model,
// 5.6 M parameters, pre-trained on the Brown Corpus) split into 8 experts with top-2 routing
// (random partition, LLaMA-MoE format) and briefly continued on the Brown train split (the same
// run as `llama-moe demo`'s random-2of8), stored in bf16. It writes English and its routing means
// something. Needs the workspace built (`pnpm nx run-many -t build`); about two minutes on 2 cores.
//
//   node scripts/make-brown-model.mjs [OUT] [--steps N] [--if-missing]
// --if-missing: do nothing when OUT already holds a model (how `pnpm dev` / `pnpm preview` call it).
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const demoIndex = join(root, '..', '..', 'packages', 'cli', 'dist', 'demo', 'index.js');
const { values, positionals } = parseArgs({ allowPositionals: true, options: { steps: { type: 'string' }, 'if-missing': { type: 'boolean', default: false } } });
const out = resolve(positionals[0] ?? join(root, 'public', 'demo-model'));
// With --if-missing, a model already there, or PLAYGROUND_MODEL_DIR (the dev server then serves that folder), is enough.
if (values['if-missing'] && (existsSync(join(out, 'config.json')) || process.env.PLAYGROUND_MODEL_DIR)) process.exit(0);
if (!existsSync(demoIndex)) {
  process.stderr.write('make-brown-model: packages/cli/dist is missing; run `pnpm nx run-many -t build` first\n');
  process.exit(1);
}
const steps = values.steps === undefined ? undefined : Number(values.steps);
if (steps !== undefined && !(Number.isInteger(steps) && steps > 0)) {
  process.stderr.write(`make-brown-model: --steps ${values.steps}: expected a positive integer\n`);
  process.exit(2);
}
const demo = await import(demoIndex);
const { loadMoeModel, saveMoeModel } = await import('@llama-moe/expert-partition/node');
await demo.useFastestBackend();
const work = mkdtempSync(join(tmpdir(), 'playground-brown-'));
const staging = `${out}.partial-${process.pid}`;
try {
  const budget = { ...demo.BROWN_RECIPE.demo, ...(steps ? { steps, evalEvery: Math.min(steps, demo.BROWN_RECIPE.demo.evalEvery) } : {}) };
  const s = await demo.runExperiment({
    denseDir: demo.brownModelDir(), workDir: work, variants: [{ method: 'random', experts: 8, topK: 2 }], budget, corpus: { preset: 'brown' }, seed: 0,
    progress: null, log: (l) => process.stderr.write(`== ${l}\n`),
  });
  const run = s.runs[0];
  const moe = loadMoeModel(join(work, run.paths.model));
  const tokenizer = Object.fromEntries(['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'].map((f) => [f, readFileSync(join(demo.brownModelDir(), f), 'utf8')]));
  saveMoeModel(moe, staging, { dtype: 'bfloat16', extraFiles: tokenizer });
  rmSync(out, { recursive: true, force: true });
  renameSync(staging, out);
  process.stdout.write(`playground model written to ${out}: random-2of8 from the Brown model, ${run.tokens} training tokens, validation perplexity ${run.before.overall.ppl.toFixed(1)} after the split → ${run.after.overall.ppl.toFixed(1)} (dense ${s.dense.overall.ppl.toFixed(1)})\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
  rmSync(staging, { recursive: true, force: true });
}

