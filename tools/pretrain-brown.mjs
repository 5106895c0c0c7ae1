#!/usr/bin/env node
// Pre-train the dense Brown model that ships at packages/cli/assets/brown-model/: a BPE tokenizer
// and a LLaMA trained on the Brown Corpus train split, stored in bf16, measured on the test split
// beside a unigram model; recipe and results go into the folder's README.md and results.json.
// The recipe (sizes, steps, seeds) is BROWN_RECIPE in packages/cli/src/brown/recipe.ts.
//
//   pnpm nx run-many -t build && node tools/pretrain-brown.mjs [--out DIR] [--work DIR] [--steps N] [--quiet]
// Resumable: --work (default .cache/pretrain-brown) keeps the tokenizer and the trainer's
// checkpoints; run the same command again after an interruption and it continues.
import { parseArgs } from 'node:util';
import { join, relative } from 'node:path';
import { fail, loadDemo, root, stderrProgress } from './lib/cli-dist.mjs';

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      out: { type: 'string', default: join(root, 'packages/cli/assets/brown-model') },
      work: { type: 'string', default: join(root, '.cache/pretrain-brown') },
      steps: { type: 'string' },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (e) {
  fail(`pretrain-brown: ${e.message} (see --help)`);
}
if (opts.help) {
  process.stdout.write('usage: node tools/pretrain-brown.mjs [--out DIR] [--work DIR] [--steps N] [--quiet]\n');
  process.exit(0);
}
const steps = opts.steps === undefined ? undefined : Number(opts.steps);
if (steps !== undefined && !(Number.isInteger(steps) && steps > 0)) fail(`pretrain-brown: --steps ${opts.steps}: expected a positive integer`);

const demo = await loadDemo();
const backend = await demo.useFastestBackend();
const log = (line) => { if (!opts.quiet) process.stderr.write(`== ${line}\n`); };
log(`matmul backend: ${backend}`);
const args = process.argv.slice(2).join(' ');
const r = await demo.pretrainBrownModel({
  out: opts.out,
  workDir: opts.work,
  steps,
  overwrite: true,
  progress: opts.quiet ? null : stderrProgress,
  log,
  backend,
  command: `node tools/pretrain-brown.mjs${args ? ` ${args}` : ''}`,
});
process.stdout.write(`wrote ${relative(process.cwd(), r.out) || r.out}: ${r.parameters} parameters, loss ${r.firstLoss.toFixed(3)} -> ${r.lastLoss.toFixed(3)}, test ppl ${r.test.ppl.toFixed(1)} (unigram ${r.unigram.ppl.toFixed(1)})\n`);
