#!/usr/bin/env node
// The LLaMA-MoE paper's comparison at small scale, on real text by default.
//
// Real text (default; tools/reproduce-brown.mjs): the shipped Brown model (packages/cli/assets/brown-model)
// split with every construction method at 2/8 and 4/16, 3 seeds, the same continual pre-training budget,
// a dense-continued control, the three domain-weight schemes for one method and routing specialisation;
// test-split perplexity; the section between `<!-- brown:begin -->` / `<!-- brown:end -->` of --doc,
// docs/REPRODUCTION-brown.json and docs/reproduction/brown-routing.html are rewritten after every stage.
// Resumable: run the same command again and finished runs (their result.json in --work) are reused.
//
//   pnpm nx run-many -t build && node tools/reproduce-paper.mjs [--work DIR] [--seeds N] [--steps N] [--test-blocks N] [--max-stages N] [--quiet]
// (--max-stages N: stop after the first N stages of this invocation, e.g. to spread the work over several sessions)
//
// Synthetic corpus (--synthetic), as before:
// split one dense LLaMA into MoEs with the weight-only neuron partitions `random` (the paper's
// "Neuron-Independent Random") and `clustering` ("Neuron-Independent Clustering") at the paper's
// 2/8 and 4/16 settings, continue pre-training each on the SAME token budget with Sheared-LLaMA
// dynamic domain weights (reference = the dense model's per-domain loss), and report per-domain
// held-out perplexity of the dense model and of each MoE before and after training. A control
// trains the dense model itself on the same budget, to separate "MoE recovered" from "more training".
//
//   pnpm nx run-many -t build && node tools/reproduce-paper.mjs [--pretrain] [--model DIR] [--steps N]
//       [--work DIR] [--doc docs/REPRODUCTION.md] [--json docs/REPRODUCTION.json] [--no-control] [--quiet]
//
// The results table goes between the `<!-- results:begin -->` / `<!-- results:end -->` markers of
// --doc (the rest of the file, e.g. the discussion, is kept); the full summary goes to --json.
// The matmul backend is tensor-core's default chain (native, wasm, cpu); LLAMA_MOE_BACKEND=cpu overrides it.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fail, loadDemo, root, stderrProgress } from './lib/cli-dist.mjs';
import { writeFileAtomic } from './lib/atomic.mjs';

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      synthetic: { type: 'boolean', default: false },
      seeds: { type: 'string', default: '3' },
      'test-blocks': { type: 'string', default: '16' },
      'max-stages': { type: 'string' },
      pretrain: { type: 'boolean', default: false },
      model: { type: 'string' },
      steps: { type: 'string' },
      work: { type: 'string' },
      doc: { type: 'string', default: join(root, 'docs/REPRODUCTION.md') },
      json: { type: 'string', default: join(root, 'docs/REPRODUCTION.json') },
      'no-control': { type: 'boolean', default: false },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (e) {
  fail(`reproduce-paper: ${e.message} (see --help)`);
}
if (opts.help) {
  process.stdout.write('usage: node tools/reproduce-paper.mjs [--model DIR] [--work DIR] [--seeds N] [--steps N] [--test-blocks N] [--max-stages N] [--doc FILE] [--quiet]\n' +
    '       node tools/reproduce-paper.mjs --synthetic [--pretrain] [--model DIR] [--steps N] [--work DIR] [--doc FILE] [--json FILE] [--no-control] [--quiet]\n');
  process.exit(0);
}
if (opts.pretrain && opts.model) fail('reproduce-paper: --pretrain and --model exclude each other (pretrain makes the dense model)');
const steps = opts.steps === undefined ? undefined : Number(opts.steps);
if (steps !== undefined && !(Number.isInteger(steps) && steps > 0)) fail(`reproduce-paper: --steps ${opts.steps}: expected a positive integer`);

const demo = await loadDemo();
const log = (line) => { if (!opts.quiet) process.stderr.write(`== ${line}\n`); };
const progress = opts.quiet ? null : stderrProgress;
const backend = await demo.useFastestBackend();

if (!opts.synthetic) {
  if (opts.pretrain) fail('reproduce-paper: --pretrain goes with --synthetic (the Brown model is made by tools/pretrain-brown.mjs)');
  const seeds = Number(opts.seeds);
  if (!(Number.isInteger(seeds) && seeds > 0)) fail(`reproduce-paper: --seeds ${opts.seeds}: expected a positive integer`);
  const testBlocks = opts['test-blocks'] === 'all' ? Infinity : Number(opts['test-blocks']);
  if (!(testBlocks === Infinity || (Number.isInteger(testBlocks) && testBlocks > 0))) fail(`reproduce-paper: --test-blocks ${opts['test-blocks']}: expected a positive integer or all`);
  const maxStages = opts['max-stages'] === undefined ? Infinity : Number(opts['max-stages']);
  if (!(maxStages === Infinity || (Number.isInteger(maxStages) && maxStages > 0))) fail(`reproduce-paper: --max-stages ${opts['max-stages']}: expected a positive integer`);
  const { reproduceBrown } = await import('./reproduce-brown.mjs');
  // --max-stages only limits one invocation and --quiet only silences it: the command the docs print
  // (to reproduce or resume) leaves them out.
  const args = process.argv.slice(2).join(' ').replace(/\s*--max-stages(?:=|\s+)\S+/, '').replace(/(^|\s)(--quiet|-q)(?=\s|$)/g, '').trim();
  await reproduceBrown({
    demo, log, progress, backend, root,
    opts: { ...opts, seeds, steps, testBlocks, maxStages, work: opts.work ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'llama-moe', 'reproduce-brown') },
    command: `node tools/reproduce-paper.mjs${args ? ` ${args}` : ''}`,
  });
  const docDir = relative(process.cwd(), dirname(resolve(opts.doc))) || '.';
  process.stdout.write(`wrote ${relative(process.cwd(), resolve(opts.doc))} (Brown section), ${join(docDir, 'REPRODUCTION-brown.json')} and ${join(docDir, 'reproduction', 'brown-routing.html')}\n`);
  process.exit(0);
}

const work = resolve(opts.work ?? mkdtempSync(join(tmpdir(), 'llama-moe-reproduction-')));
mkdirSync(work, { recursive: true });
log(`matmul backend: ${backend}; work folder ${work}`);

const t0 = performance.now();
let denseDir = opts.model ? resolve(opts.model) : demo.demoModelDir();
if (opts.pretrain) {
  denseDir = join(work, 'dense');
  log(`pretraining a fresh dense model into ${denseDir} (DEMO_RECIPE.pretrain)`);
  await demo.pretrainDemoModel({ out: denseDir, overwrite: true, progress, log, backend, command: 'node tools/reproduce-paper.mjs --synthetic --pretrain' });
}
const variants = [];
for (const [experts, topK] of [[8, 2], [16, 4]]) for (const method of ['random', 'clustering']) variants.push({ method, experts, topK });
const budget = { ...demo.DEMO_RECIPE.reproduce, ...(steps ? { steps, evalEvery: Math.min(demo.DEMO_RECIPE.reproduce.evalEvery, steps) } : {}) };
const summary = await demo.runExperiment({
  denseDir, workDir: work, variants, budget, corpus: demo.DEMO_RECIPE.corpus, seed: 0, denseControl: !opts['no-control'], log, progress, backend,
});
const seconds = (performance.now() - t0) / 1000;
const args = process.argv.slice(2).join(' ');
const command = `node tools/reproduce-paper.mjs${args ? ` ${args}` : ''}`;
const doc = { ...summary, command, wallSeconds: seconds, denseModel: relative(root, denseDir) || denseDir };


writeFileAtomic(resolve(opts.json), JSON.stringify(doc, null, 2) + '\n');
writeFileSync(join(work, 'summary.json'), JSON.stringify(doc, null, 2) + '\n');
writeFileSync(join(work, 'index.html'), demo.renderIndexHtml(summary, 'llama-moe: paper reproduction (small scale)'));

const b = summary.budget;
const m = summary.machine;
const tokens = b.steps * b.batchSize * b.seqLen;
const fmt = (v) => (Number.isFinite(v) ? v.toFixed(2) : String(v));
const trainRows = summary.runs.map((r) => `| ${r.name} | ${r.kind === 'dense' ? '1' : `${r.topK}/${r.experts}`} | ${fmt(r.trainLoss.first)} → ${fmt(r.trainLoss.last)} | ${r.trainSeconds.toFixed(0)} s |`);
const section = `<!-- results:begin (written by tools/reproduce-paper.mjs; edit outside the markers) -->
- **Command**: \`pnpm nx run-many -t build && ${command.replace(root + '/', '')}\`
- **Date**: ${summary.created.slice(0, 10)}; **machine**: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}, Node ${m.node}; matmul backend ${backend}; wall time ${(seconds / 60).toFixed(1)} min
- **Dense model**: \`${doc.denseModel}\`${opts.pretrain ? ' (pre-trained by this run)' : ' (the shipped demo model, see its README.md)'}
- **Corpus**: synthetic SlimPajama-like, \`generateCorpus({ seed: ${summary.corpus.seed}, targetBytes: ${summary.corpus.targetBytes} })\` (${(summary.corpus.bytes / 1e6).toFixed(2)} MB); the first ${summary.corpus.heldOutDocs} documents of each domain are held out
- **Validation**: ${summary.validation.blocksPerDomain} blocks × ${summary.validation.seqLen} tokens per domain packed from the held-out documents (${summary.validation.tokensPerDomain.toLocaleString('en-US')} predicted tokens per domain)
- **Budget, identical for every row**: ${b.steps} steps × ${b.batchSize} sequences × ${b.seqLen} tokens = **${tokens.toLocaleString('en-US')} tokens**; AdamW, peak lr ${b.lr}, ${b.warmupSteps} warm-up steps, cosine to 10 %, clip 1.0; domain weights start at the Sheared-LLaMA SlimPajama mix and follow the Sheared-LLaMA dynamic rule every ${b.evalEvery} steps with the dense model's per-domain losses as reference; seed ${summary.seed} (splits, data order, gate noise)
- **MoE construction**: \`splitModel\` (LLaMA-MoE format): equal experts of F/E neurons, \`TopKBalancedNoisyGate\` with an MLP gate network (random init), balance-loss weight 0.01, score scale E/k; everything trainable

Per-domain perplexity (lower is better; "vs dense" = overall perplexity relative to the dense model; "active FFN" = share of FFN neurons each token uses):

${demo.renderSummaryMarkdown(summary)}
| run | active FFN | training loss (first → last step) | training time |
| --- | --- | --- | ---: |
${trainRows.join('\n')}

Raw numbers: [REPRODUCTION.json](REPRODUCTION.json).
<!-- results:end -->`;

const docPath = resolve(opts.doc);
let text = existsSync(docPath) ? readFileSync(docPath, 'utf8') : `# Reproducing LLaMA-MoE at small scale\n\n## Results\n\n<!-- results:begin -->\n<!-- results:end -->\n`;
const re = /<!-- results:begin[\s\S]*?<!-- results:end -->/;
text = re.test(text) ? text.replace(re, () => section) : `${text.trimEnd()}\n\n## Results\n\n${section}\n`;
writeFileAtomic(docPath, text);

process.stdout.write(demo.renderSummaryText(summary));
process.stdout.write(`\nwrote ${relative(process.cwd(), docPath)} and ${relative(process.cwd(), resolve(opts.json))} in ${(seconds / 60).toFixed(1)} min; runs and reports in ${work}\n`);
