#!/usr/bin/env node
// Pre-train the small dense LLaMA that `llama-moe demo` ships (packages/cli/assets/demo-model/):
// regenerate the synthetic corpus from its seed, train a LLaMA-2-style tokenizer, pre-train with
// @llama-moe/trainer and write the Hugging Face folder (atomically) with a README saying how.
// The recipe (seeds, sizes, steps) is DEMO_RECIPE in packages/cli/src/demo/recipe.ts.
//
//   pnpm nx run-many -t build && node tools/pretrain-demo.mjs [--out DIR] [--steps N] [--work DIR] [--quiet]
// The matmul backend is tensor-core's default chain (native, wasm, cpu); LLAMA_MOE_BACKEND=cpu overrides it.
import { parseArgs } from 'node:util';
import { join, relative } from 'node:path';
import { fail, loadDemo, root, stderrProgress } from './lib/cli-dist.mjs';

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      out: { type: 'string', default: join(root, 'packages/cli/assets/demo-model') },
      steps: { type: 'string' },
      work: { type: 'string' },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (e) {
  fail(`pretrain-demo: ${e.message} (see --help)`);
}
if (opts.help) {
  process.stdout.write('usage: node tools/pretrain-demo.mjs [--out DIR] [--steps N] [--work DIR] [--quiet]\n');
  process.exit(0);
}
const steps = opts.steps === undefined ? undefined : Number(opts.steps);
if (steps !== undefined && !(Number.isInteger(steps) && steps > 0)) fail(`pretrain-demo: --steps ${opts.steps}: expected a positive integer`);

const demo = await loadDemo();
const backend = await demo.useFastestBackend();
const log = (line) => { if (!opts.quiet) process.stderr.write(`== ${line}\n`); };
log(`matmul backend: ${backend}`);
const args = process.argv.slice(2).join(' ');
const r = await demo.pretrainDemoModel({
  out: opts.out,
  steps,
  workDir: opts.work,
  overwrite: true,
  progress: opts.quiet ? null : stderrProgress,
  log,
  backend,
  command: `node tools/pretrain-demo.mjs${args ? ` ${args}` : ''}`,
});
process.stdout.write(`wrote ${relative(process.cwd(), r.out) || r.out}: ${r.parameters} parameters, loss ${r.firstLoss.toFixed(3)} -> ${r.lastLoss.toFixed(3)}, held-out ppl ${r.validation.ppl.toFixed(2)}, ${r.seconds.toFixed(0)} s\n`);
