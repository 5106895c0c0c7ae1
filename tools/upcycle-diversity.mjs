#!/usr/bin/env node
// Upcycling vs Drop-Upcycling (Nakamura et al., ICLR 2025) on the shipped Brown model: how different
// the experts start (mean pairwise cosine of their weights, linear CKA of their outputs on the same
// hidden states) and how fast each MoE learns over its first training steps (train loss per step,
// test perplexity before and after). Every expert of every variant is a full copy of the dense FFN
// (8 experts, top-2, linear router N(0, 0.02), weights renormalised over the two chosen experts, so
// that at step 0 an upcycled MoE computes exactly the dense FFN); drop-upcycle re-initialises a
// fraction R of each copy's neurons, a different seeded subset per expert.
//
// Resumable: one result file per (variant, seed) in --work; the section between the markers of
// docs/BEYOND-PAPER.md is rewritten from every result present after each run. Nothing is typed by hand.
//   node tools/upcycle-diversity.mjs [--seeds 3] [--steps 50] [--work DIR] [--doc FILE] [--quiet]
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fail, loadDemo, root } from './lib/cli-dist.mjs';
import { writeFileAtomic } from './lib/atomic.mjs';
import { mean, std, writeMarkedSection } from './lib/marked-section.mjs';
import { importBuiltPackage } from './lib/built-package.mjs';

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      model: { type: 'string' },
      work: { type: 'string', default: join(homedir(), '.cache', 'llama-moe', 'upcycle-diversity') },
      seeds: { type: 'string', default: '3' },
      steps: { type: 'string', default: '50' },
      'test-blocks': { type: 'string', default: '8' },
      doc: { type: 'string', default: join(root, 'docs/BEYOND-PAPER.md') },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (e) {
  fail(`upcycle-diversity: ${e.message} (see --help)`);
}
if (opts.help) {
  process.stdout.write('usage: node tools/upcycle-diversity.mjs [--model DIR] [--work DIR] [--seeds N] [--steps N] [--test-blocks N] [--doc FILE] [--quiet]\n');
  process.exit(0);
}
const int = (name, min) => {
  const v = Number(opts[name]);
  if (!Number.isInteger(v) || v < min) fail(`upcycle-diversity: --${name} must be an integer >= ${min}, got '${opts[name]}'`);
  return v;
};
const seeds = int('seeds', 1), steps = int('steps', 1), testBlocks = int('test-blocks', 1);
const log = (s) => { if (!opts.quiet) process.stderr.write(`${s}\n`); };

const demo = await loadDemo();
const ep = await importBuiltPackage('expert-partition');
const lm = await importBuiltPackage('llama-model');
const tc = await importBuiltPackage('tensor-core');
const { expertForward } = await importBuiltPackage('router');
const { evaluatePerplexity, train } = await importBuiltPackage('trainer');
const { MultiDomainSampler } = await importBuiltPackage('data-sampler');

const backend = await demo.useFastestBackend();
const modelDir = resolve(opts.model ?? demo.brownModelDir());
if (!existsSync(join(modelDir, 'config.json'))) fail(`upcycle-diversity: --model ${modelDir}: no config.json`);
const work = resolve(opts.work);
mkdirSync(join(work, 'results'), { recursive: true });

const SEQ = 128, E = 8, K = 2;
/** Tokens whose FFN inputs the CKA compares (8 sequences of the train split, a seeded domain-uniform draw). */
const CKA_SEQS = 8;
const VARIANTS = [
  { name: 'upcycle', method: 'upcycle' },
  { name: 'drop-upcycle R=0.25', method: 'drop-upcycle', dropRatio: 0.25 },
  { name: 'drop-upcycle R=0.5', method: 'drop-upcycle', dropRatio: 0.5 },
];
const BUDGET = { batchSize: 8, lr: 5e-4, warmupSteps: 5 };

// A fresh dense model per run: an MoE built from it shares its attention and embedding tensors, which
// training updates in place.
const freshDense = () => lm.loadLlama(modelDir);
const cfg = freshDense().config;
const F = cfg.intermediate_size, L = cfg.num_hidden_layers, D = cfg.hidden_size;
const tok = demo.cachedSamplerTokenizer(lm.loadTokenizer(modelDir));
const brown = demo.brownData();
const test = demo.packedSplit(brown.test, tok, SEQ, testBlocks);
const ppl = (m) => evaluatePerplexity(m, test, { batchSize: 8 }).overall.ppl;

async function sequences(seed, n) {
  const sampler = new MultiDomainSampler({ sources: brown.train, tokenizer: tok, seqLen: SEQ, seed, weights: 'uniform', normalizeWeights: true });
  const out = [];
  try {
    for (let i = 0; i < n; i++) out.push(Int32Array.from((await sampler.nextBatch(1)).inputIds.subarray(0, SEQ)));
  } finally {
    await Promise.resolve(sampler.close?.());
  }
  return out;
}

/** Per layer, the dense model's FFN inputs [N, D] on the CKA sequences (the same inputs for every variant). */
async function ffnInputs(dense, seed) {
  const xs = Array.from({ length: L }, () => []);
  ep.calibrate(dense, await sequences(1000 + seed, CKA_SEQS), SEQ, { onActivation: (l, x) => xs[l].push(Float32Array.from(x)) });
  return xs.map((parts) => {
    const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) { all.set(p, o); o += p.length; }
    return new tc.Tensor(all, [all.length / D, D]);
  });
}

/** Columns centred: [N, D] → [N, D]. */
function centred(t) {
  const [N, C] = t.shape;
  const a = Float32Array.from(t.f32());
  for (let c = 0; c < C; c++) {
    let m = 0;
    for (let n = 0; n < N; n++) m += a[n * C + c];
    m /= N;
    for (let n = 0; n < N; n++) a[n * C + c] -= m;
  }
  return new tc.Tensor(a, [N, C]);
}
const frob2 = (t) => t.f32().reduce((s, v) => s + v * v, 0);
/** Linear CKA (Kornblith et al. 2019) of two centred [N, D] matrices: ‖XᵀY‖² / (‖XᵀX‖ ‖YᵀY‖). */
function cka(x, y, xx, yy) {
  return frob2(tc.matmul(x, y, { transA: true })) / Math.sqrt(xx * yy);
}

function diversity(moe, inputs) {
  const cos = [], ck = [];
  tc.noGrad(() => moe.weights.layers.forEach((layer, l) => {
    const ex = layer.mlp.experts;
    const w = ex.map((e) => [e.gate.f32(), e.up.f32(), e.down.f32()]);
    const dot = (a, b) => a.reduce((s, x, i) => { let t = 0; for (let j = 0; j < x.length; j++) t += x[j] * b[i][j]; return s + t; }, 0);
    const ys = ex.map((e) => centred(expertForward(e, inputs[l])));
    const self = ys.map((y) => frob2(tc.matmul(y, y, { transA: true })));
    let sc = 0, sk = 0, n = 0;
    for (let i = 0; i < ex.length; i++) for (let j = i + 1; j < ex.length; j++) {
      sc += dot(w[i], w[j]) / Math.sqrt(dot(w[i], w[i]) * dot(w[j], w[j]));
      sk += cka(ys[i], ys[j], self[i], self[j]);
      n++;
    }
    cos.push(sc / n);
    ck.push(sk / n);
  }));
  return { cosine: mean(cos), cka: mean(ck), ckaPerLayer: ck };
}

async function run(v, seed) {
  const dense = freshDense();
  const spec = {
    ...ep.defaultMoeSpec(L, F, E, K), gateNetwork: 'linear', scoreScaleFactor: 1, gateAddNoise: false,
    sizeExperts: Array.from({ length: L }, () => new Array(E).fill(F)),
  };
  const full = Array.from({ length: L }, () => Array.from({ length: E }, () => Array.from({ length: F }, (_, i) => i)));
  const moe = ep.buildMoeFromDense(dense, { spec, format: 'llama-moe', partition: full, gateInit: 'random', seed, method: v.method, ...(v.dropRatio !== undefined ? { dropRatio: v.dropRatio } : {}) });
  const div = diversity(moe, await ffnInputs(dense, seed));
  const before = ppl(moe);
  const outDir = join(work, 'train', `${v.name.replace(/[^a-z0-9.=-]+/gi, '_')}-s${seed}`);
  rmSync(outDir, { recursive: true, force: true });
  const result = await train(
    {
      max_steps: steps, batch_size: BUDGET.batchSize, seq_len: SEQ, lr: BUDGET.lr, warmup_steps: BUDGET.warmupSteps, eval_every: steps, eval_blocks: 2,
      save_every: steps, keep_last: 1, seed, domain_weights: 'uniform', stats_every: 0, log_every: 10, quiet: true, report: false,
    },
    { model: moe, sources: brown.train, tokenizer: tok, outDir, progress: null, resume: false },
  );
  const losses = result.history.filter((r) => r.kind === 'train').map((r) => r.ce_loss ?? r.loss);
  const after = ppl(result.model);
  rmSync(outDir, { recursive: true, force: true });
  return { ...div, before, after, losses };
}

// ---- the doc
const pm = (xs, d) => (xs.length === 0 ? '–' : xs.length === 1 ? `${xs[0].toFixed(d)} (1 seed)` : `${mean(xs).toFixed(d)} ± ${std(xs).toFixed(d)}${xs.length < seeds ? ` (${xs.length} seeds)` : ''}`);
const resultFile = (v, seed) => join(work, 'results', `${v.name.replace(/[^a-z0-9.=-]+/gi, '_')}-s${seed}.json`);
const load = () => VARIANTS.map((v) => ({ v, rs: Array.from({ length: seeds }, (_, s) => resultFile(v, s)).filter(existsSync).map((f) => JSON.parse(readFileSync(f, 'utf8'))) }));

function render(seconds) {
  const rows = load();
  const doneRuns = rows.reduce((n, r) => n + r.rs.length, 0);
  const q = Math.max(1, Math.floor(steps / 5));
  const lines = [
    `Measured by \`node tools/upcycle-diversity.mjs --seeds ${seeds} --steps ${steps} --test-blocks ${testBlocks}\` on \`${relative(root, modelDir) || modelDir}\`; matmul backend: ${backend}. **${doneRuns} of ${VARIANTS.length * seeds} runs done**${doneRuns < VARIANTS.length * seeds ? ' (the same command continues)' : ''}; ${(seconds / 60).toFixed(1)} min in the last invocation.`,
    `Every MoE: ${E} experts per layer, each a full copy of the dense FFN (F = ${F}), top-${K}, linear router N(0, 0.02) (seeded), combine weights renormalised over the chosen experts. Diversity: mean over layers of the mean over expert pairs; CKA is linear CKA of the experts' outputs on the dense model's FFN inputs of ${CKA_SEQS} × ${SEQ} train tokens (1 = the same function up to rotation and scale). Training: ${steps} steps × ${BUDGET.batchSize} × ${SEQ} tokens of the Brown train split (domains uniform), lr ${BUDGET.lr}, ${BUDGET.warmupSteps} warm-up steps, AdamW, the trainer's defaults otherwise; train loss is the cross-entropy of each step's batch. Test: first ${testBlocks} blocks × ${SEQ} tokens of each genre.`,
    '',
    `| experts | weight cosine | output CKA | test ppl, step 0 | train loss, steps 1–${q} | train loss, steps ${steps - q + 1}–${steps} | test ppl after ${steps} steps |`,
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const { v, rs } of rows) {
    const early = rs.map((r) => mean(r.losses.slice(0, q))), late = rs.map((r) => mean(r.losses.slice(-q)));
    lines.push(`| ${v.name} | ${pm(rs.map((r) => r.cosine), 4)} | ${pm(rs.map((r) => r.cka), 4)} | ${pm(rs.map((r) => r.before), 2)} | ${pm(early, 4)} | ${pm(late, 4)} | ${pm(rs.map((r) => r.after), 2)} |`);
  }
  lines.push('', 'Mean ± standard deviation over seeds (the seed draws the router, the re-initialised neurons, the CKA tokens and the training batches).');
  return lines.join('\n');
}

function writeDoc(seconds) {
  writeMarkedSection(resolve(opts.doc), 'upcycle-diversity', render(seconds), 'Beyond the paper');
}

const t0 = performance.now();
log(`upcycle-diversity: ${modelDir}, ${VARIANTS.length} variants × ${seeds} seeds, ${steps} steps each; work ${work}; backend ${backend}`);
for (let seed = 0; seed < seeds; seed++) for (const v of VARIANTS) {
  const f = resultFile(v, seed);
  if (existsSync(f)) continue;
  const t = performance.now();
  log(`${v.name}, seed ${seed}`);
  const r = await run(v, seed);
  writeFileAtomic(f, `${JSON.stringify({ variant: v, seed, ...r, seconds: (performance.now() - t) / 1000 }, null, 1)}\n`);
  log(`    cosine ${r.cosine.toFixed(4)}, CKA ${r.cka.toFixed(4)}, ppl ${r.before.toFixed(2)} → ${r.after.toFixed(2)} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  writeDoc((performance.now() - t0) / 1000);
}
writeDoc((performance.now() - t0) / 1000);
log(`upcycle-diversity: ${readdirSync(join(work, 'results')).length} results; doc ${relative(process.cwd(), resolve(opts.doc))}`);
