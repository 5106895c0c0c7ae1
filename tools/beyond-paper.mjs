#!/usr/bin/env node
// Training-free expert construction, measured (issue 22): test-split perplexity of MoEs built from
// the dense Brown model with ZERO training, at 25 %, 50 % and 75 % of the FFN active per token, for
// the paper's random and clustering splits (their N(0, 0.02) gate, and a ridge router fitted on the
// same calibration tokens), carve with each closed-form router init, with and without
// --recalibrate, and last the paper's graph and gradient splits; plus expert diversity of
// upcycle vs drop-upcycle (mean pairwise cosine of the experts' weights). Seeds 0..N-1 where seeds
// matter (partition, k-means, gate, calibration draw, reservoir sample).
//
//   pnpm nx run-many -t build && node tools/beyond-paper.mjs [--model DIR] [--work DIR] [--seeds N]
//       [--test-blocks N] [--calibration-sequences N] [--max-runs N] [--doc FILE] [--quiet]
//
// Shapes (F = 512 on the Brown model): the paper's methods cut the FFN into 8 experts of F/8 and route
// k = 2, 4, 6 of them; carve cuts it into 7 routed experts of F/8 plus a shared expert of F/8 (its
// default shared size ⌊F/(E+1)⌋) and routes k = 1, 3, 5 — the same share of neurons per token.
// Resumable: every run's result is a JSON file in --work (default .cache/beyond-paper); finished runs
// are skipped, and the section between `<!-- beyond-paper:begin -->` / `<!-- beyond-paper:end -->`
// of --doc (default docs/BEYOND-PAPER.md) is rewritten from everything done so far after every run.
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
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
      work: { type: 'string', default: join(root, '.cache/beyond-paper') },
      seeds: { type: 'string', default: '3' },
      'test-blocks': { type: 'string', default: '8' },
      'calibration-sequences': { type: 'string', default: '32' },
      'max-runs': { type: 'string' },
      doc: { type: 'string', default: join(root, 'docs/BEYOND-PAPER.md') },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (e) {
  fail(`beyond-paper: ${e.message} (see --help)`);
}
if (opts.help) {
  process.stdout.write('usage: node tools/beyond-paper.mjs [--model DIR] [--work DIR] [--seeds N] [--test-blocks N] [--calibration-sequences N] [--max-runs N] [--doc FILE] [--quiet]\n');
  process.exit(0);
}
const int = (name, min) => {
  const v = Number(opts[name]);
  if (!Number.isInteger(v) || v < min) fail(`beyond-paper: --${name} must be an integer >= ${min}, got '${opts[name]}'`);
  return v;
};
const seeds = int('seeds', 1), testBlocks = int('test-blocks', 1), calibSeqs = int('calibration-sequences', 1);
const maxRuns = opts['max-runs'] === undefined ? Infinity : int('max-runs', 0);
const log = (s) => { if (!opts.quiet) process.stderr.write(`${s}\n`); };

const demo = await loadDemo();
const ep = await importBuiltPackage('expert-partition');
const lm = await importBuiltPackage('llama-model');
const { evaluatePerplexity } = await importBuiltPackage('trainer');
const { MultiDomainSampler } = await importBuiltPackage('data-sampler');

const backend = await demo.useFastestBackend();
const modelDir = resolve(opts.model ?? demo.brownModelDir());
if (!existsSync(join(modelDir, 'config.json'))) fail(`beyond-paper: --model ${modelDir}: no config.json (pre-train it with tools/pretrain-brown.mjs, or pass --model)`);
const work = resolve(opts.work);
mkdirSync(join(work, 'runs'), { recursive: true });
const SEQ = 128;
const FRACTIONS = [25, 50, 75];
/** k of 8 for the paper's methods, k of 7 (+ shared) for carve. */
const K_PAPER = { 25: 2, 50: 4, 75: 6 };
const K_CARVE = { 25: 1, 50: 3, 75: 5 };
const CARVE_INITS = ['ridge', 'representative', 'kmeans', 'centroids'];


// ---- data (seeded: test blocks are the first N of each genre; calibration a domain-uniform draw from train)
const dense = lm.loadLlama(modelDir);
const cfg = dense.config;
const F = cfg.intermediate_size, L = cfg.num_hidden_layers;
if (F % 8 !== 0) fail(`beyond-paper: intermediate_size ${F} must divide by 8 (the shapes cut the FFN into eighths)`);
const tok = demo.cachedSamplerTokenizer(lm.loadTokenizer(modelDir));
const brown = demo.brownData();
const test = demo.packedSplit(brown.test, tok, SEQ, testBlocks);
const testTokens = Object.values(test).reduce((n, bs) => n + bs.length * (SEQ - 1), 0);
async function calibration(seed) {
  const sampler = new MultiDomainSampler({ sources: brown.train, tokenizer: tok, seqLen: SEQ, seed, weights: 'uniform', normalizeWeights: true });
  const out = [];
  try {
    for (let i = 0; i < calibSeqs; i++) out.push(Int32Array.from((await sampler.nextBatch(1)).inputIds.subarray(0, SEQ)));
  } finally {
    await Promise.resolve(sampler.close?.());
  }
  return out;
}
const ppl = (m) => {
  const r = evaluatePerplexity(m, test, { batchSize: 8 });
  return { ppl: r.overall.ppl, perDomain: Object.fromEntries(Object.entries(r.perDomain).map(([d, v]) => [d, v.ppl])) };
};

// ---- the runs, most informative first
/** @typedef {{ name: string, kind: string, method?: string, gateInit?: string, recalibrate?: boolean, fraction?: number, seed?: number }} Run */
function plan() {
  /** @type {Run[]} */
  const runs = [{ name: 'dense', kind: 'dense' }, { name: 'diversity', kind: 'diversity' }];
  const v = (method, gateInit, fraction, seed, recalibrate = false) => ({
    name: `${method}${recalibrate ? '+recal' : ''}-${gateInit}-${fraction}-s${seed}`, kind: 'moe', method, gateInit, fraction, seed, recalibrate,
  });
  for (let seed = 0; seed < seeds; seed++) {
    const stage = [];
    for (const f of FRACTIONS) stage.push(v('carve', 'ridge', f, seed), v('carve', 'ridge', f, seed, true), v('random', 'random', f, seed), v('carve', 'representative', f, seed), v('clustering', 'random', f, seed));
    for (const f of FRACTIONS) stage.push(v('random', 'ridge', f, seed), v('clustering', 'ridge', f, seed), v('carve', 'kmeans', f, seed), v('carve', 'centroids', f, seed), v('carve', 'representative', f, seed, true));
    runs.push(...stage);
  }
  // The paper's data-driven partitions last, seed 0 first (the seed draws their calibration tokens,
  // the gradient method's sequence clusters and the paper's gate).
  for (let seed = 0; seed < seeds; seed++) {
    for (const f of FRACTIONS) runs.push(v('graph', 'random', f, seed), v('gradient', 'random', f, seed), v('graph', 'ridge', f, seed), v('gradient', 'ridge', f, seed));
  }
  return runs;
}

const resultFile = (name) => join(work, 'runs', `${name}.json`);
const done = () => new Map(readdirSync(join(work, 'runs')).filter((f) => f.endsWith('.json')).map((f) => [f.slice(0, -5), JSON.parse(readFileSync(join(work, 'runs', f), 'utf8'))]));

/** Activation statistics and calibration sequences per seed (the dense model's; shared by every carve run of that seed). */
const calibCache = new Map();
async function calibFor(seed) {
  if (!calibCache.has(seed)) {
    const seqs = await calibration(seed);
    calibCache.set(seed, { seqs, stats: null });
  }
  return calibCache.get(seed);
}

/**
 * carve, and any partition with a data router, get carve's router treatment: linear gate, score scale k, fitted row
 * scale. The paper's N(0, 0.02) gate keeps the paper's MLP gate and score scale E/k.
 */
function specFor(method, fraction, gateInit) {
  const carve = method === 'carve';
  const fitted = gateInit !== 'random';
  const E = carve ? 7 : 8, k = carve ? K_CARVE[fraction] : K_PAPER[fraction];
  const base = ep.defaultMoeSpec(L, F, E, k);
  const shared = carve ? ep.defaultCarveSharedSize(F, E) : 0;
  return {
    E, k, shared, fitted,
    spec: { ...base, gateNetwork: carve || fitted ? 'linear' : 'mlp', scoreScaleFactor: carve || fitted ? k : E / k, sizeExperts: Array.from({ length: L }, () => (carve ? ep.carveSizes(F, E, shared) : ep.resolveSizes(F, E))), sizeSharedExperts: carve ? Array.from({ length: L }, () => [shared]) : [] },
  };
}

async function runMoe(r) {
  const { E, k, shared, spec, fitted } = specFor(r.method, r.fraction, r.gateInit);
  const c = await calibFor(r.seed);
  let parts;
  if (r.method === 'carve') {
    c.stats ??= ep.collectActivationStats(dense, c.seqs, SEQ);
    parts = c.stats.map((s, l) => ep.partitionLayer('carve', { activation: s }, { intermediateSize: F, numExperts: E, sharedSizes: [shared], sizeExperts: spec.sizeExperts[l], seed: r.seed, layer: l }));
  } else if (r.method === 'graph') {
    const acc = Array.from({ length: L }, () => new ep.CoActivationAccumulator(F));
    ep.calibrate(dense, c.seqs, SEQ, { onActivation: (l, _x, h, N) => acc[l].add(h, N) });
    parts = acc.map((a, l) => ep.partitionLayer('graph', { coActivation: a }, { intermediateSize: F, numExperts: E, seed: r.seed, layer: l }));
  } else if (r.method === 'gradient') {
    const clusters = ep.clusterSequences(dense, c.seqs, E, r.seed);
    const acc = Array.from({ length: L }, () => new ep.ImportanceAccumulator(F, E));
    ep.calibrate(dense, c.seqs, SEQ, { onGradient: (l, h, dh, N, b) => acc[l].add(clusters[b], h, dh, N) }, { gradients: true });
    parts = acc.map((a, l) => ep.partitionLayer('gradient', { importance: a }, { intermediateSize: F, numExperts: E, seed: r.seed, layer: l }));
  } else {
    parts = Array.from({ length: L }, (_, l) => ep.partitionLayer(r.method, { upProj: dense.weights.layers[l].mlp.up.f32() }, { intermediateSize: F, hiddenSize: cfg.hidden_size, numExperts: E, seed: r.seed, layer: l, metric: 'cos' }));
  }
  let rows, scales, fits;
  if (r.gateInit !== 'random') {
    const cals = ep.collectRouterCalibration(dense, c.seqs, SEQ, parts, { seed: r.seed });
    const d = ep.dataRouters(dense, parts, cals, { init: r.gateInit, fitScale: fitted, recalibrate: r.recalibrate, topK: k, scoreScale: spec.scoreScaleFactor, seed: r.seed });
    rows = d.rows; scales = d.expertScales; fits = d.fits;
  }
  const moe = ep.buildMoeFromDense(dense, {
    spec, format: 'llama-moe', partition: parts.map((p) => p.experts), sharedPartition: shared ? parts.map((p) => p.shared) : undefined,
    gateInit: r.gateInit, centroids: rows, expertScales: scales, seed: r.seed, method: r.method,
  });
  const relErr = fits?.[0]?.error != null ? fits.map((f) => (r.recalibrate ? f.recalibratedError : f.error) / f.denseNorm) : null;
  return { ...ppl(moe), experts: E, topK: k, shared, activeShare: (shared + (k * (F - shared)) / E) / F, scoreScale: spec.scoreScaleFactor, layerRelativeError: relErr };
}

/** Mean pairwise cosine of the experts' concatenated (gate, up, down) weights, averaged over layers. */
function expertCosine(moe) {
  const per = moe.weights.layers.map((layer) => {
    const vs = layer.mlp.experts.map((e) => [e.gate.f32(), e.up.f32(), e.down.f32()]);
    const dot = (a, b) => a.reduce((s, x, i) => { let t = 0; for (let j = 0; j < x.length; j++) t += x[j] * b[i][j]; return s + t; }, 0);
    let sum = 0, n = 0;
    for (let i = 0; i < vs.length; i++) for (let j = i + 1; j < vs.length; j++) { sum += dot(vs[i], vs[j]) / Math.sqrt(dot(vs[i], vs[i]) * dot(vs[j], vs[j])); n++; }
    return sum / n;
  });
  return per.reduce((a, b) => a + b, 0) / per.length;
}

function runDiversity() {
  const out = {};
  const spec = { ...ep.defaultMoeSpec(L, F, 8, 2), sizeExperts: Array.from({ length: L }, () => new Array(8).fill(F)) };
  const full = Array.from({ length: L }, () => Array.from({ length: 8 }, () => Array.from({ length: F }, (_, i) => i)));
  for (const [name, o] of [['upcycle', {}], ['upcycle, noise 0.01', { upcycleNoise: 0.01 }], ['drop-upcycle R=0.25', { dropRatio: 0.25 }], ['drop-upcycle R=0.5', { dropRatio: 0.5 }], ['drop-upcycle R=0.75', { dropRatio: 0.75 }]]) {
    const xs = [];
    for (let seed = 0; seed < seeds; seed++) xs.push(expertCosine(ep.buildMoeFromDense(dense, { spec, format: 'llama-moe', partition: full, gateInit: 'zeros', seed, method: name.startsWith('drop') ? 'drop-upcycle' : 'upcycle', ...o })));
    out[name] = xs;
  }
  return { cosine: out };
}

// ---- the doc
const pm = (xs, d = 2) => (xs.length === 0 ? '–' : xs.length === 1 ? `${xs[0].toFixed(d)} (1 seed)` : `${mean(xs).toFixed(d)} ± ${std(xs).toFixed(d)}${xs.length < seeds ? ` (${xs.length} seeds)` : ''}`);

function render(results, all, seconds) {
  const denseR = results.get('dense');
  const rows = [
    ['random', 'random', false, 'random (paper), N(0, 0.02) gate'], ['random', 'ridge', false, 'random, ridge router'],
    ['clustering', 'random', false, 'clustering (paper), N(0, 0.02) gate'], ['clustering', 'ridge', false, 'clustering, ridge router'],
    ['carve', 'ridge', false, 'carve, ridge router'], ['carve', 'ridge', true, 'carve, ridge router, --recalibrate'],
    ['carve', 'representative', false, 'carve, representative-neuron router'], ['carve', 'representative', true, 'carve, representative router, --recalibrate'],
    ['carve', 'kmeans', false, 'carve, k-means router'], ['carve', 'centroids', false, 'carve, centroid router'],
    ['graph', 'random', false, 'graph (paper), N(0, 0.02) gate'], ['graph', 'ridge', false, 'graph, ridge router'],
    ['gradient', 'random', false, 'gradient (paper), N(0, 0.02) gate'], ['gradient', 'ridge', false, 'gradient, ridge router'],
  ];
  const pplOf = (m, g, rc, f) => [...results.values()].filter((x) => x.run?.kind === 'moe' && x.run.method === m && x.run.gateInit === g && !!x.run.recalibrate === rc && x.run.fraction === f).map((x) => x.ppl);
  const lines = [];
  const ran = [...results.keys()].filter((k) => all.some((r) => r.name === k)).length;
  lines.push(`Measured by \`node tools/beyond-paper.mjs${opts.model ? ` --model ${relative(root, modelDir)}` : ''} --seeds ${seeds} --test-blocks ${testBlocks} --calibration-sequences ${calibSeqs}\` on \`${relative(root, modelDir) || modelDir}\` (${cfg.num_hidden_layers} layers, hidden ${cfg.hidden_size}, intermediate ${F}); matmul backend: ${backend}.`);
  lines.push(`**${ran} of ${all.length} runs done**${ran < all.length ? ' (the same command continues where this stopped)' : ''}; ${(seconds / 60).toFixed(1)} min in the last invocation.`);
  lines.push(`Test split: the first ${testBlocks} blocks × ${SEQ} tokens of each of the 15 genres (${testTokens} predicted tokens). Calibration: ${calibSeqs} blocks × ${SEQ} tokens, a seeded domain-uniform draw from the train split (seed = run seed). No training anywhere.`);
  lines.push('');
  if (denseR) lines.push(`Dense model: test perplexity **${denseR.ppl.toFixed(2)}**.`, '');
  lines.push('| construction | 25 % active | 50 % active | 75 % active |', '| --- | --- | --- | --- |');
  for (const [m, g, rc, label] of rows) {
    const cells = FRACTIONS.map((f) => {
      const xs = pplOf(m, g, rc, f);
      if (!xs.length) return '–';
      if (!denseR) return pm(xs);
      const ex = (mean(xs) / denseR.ppl - 1) * 100;
      return `${pm(xs)} (${ex >= 0 ? '+' : ''}${ex.toFixed(1)} %)`;
    });
    lines.push(`| ${label} | ${cells.join(' | ')} |`);
  }
  lines.push('', 'Perplexity mean ± std over seeds (excess over dense in brackets).', '');
  if (denseR) {
    lines.push('Targets of issue 22 (carve with its default router, no training):');
    const c = (f) => pplOf('carve', 'ridge', false, f), cr = (f) => pplOf('carve', 'ridge', true, f), rnd = (f) => pplOf('random', 'random', false, f);
    const verdict = (xs, limit) => (xs.length ? `${((mean(xs) / denseR.ppl - 1) * 100).toFixed(1)} % over dense (target ≤ ${limit} %): **${mean(xs) / denseR.ppl - 1 <= limit / 100 ? 'met' : 'missed'}**` : 'not measured yet');
    lines.push(`- 75 % active: ${verdict(c(75), 5)}; with --recalibrate ${verdict(cr(75), 5)}`);
    lines.push(`- 50 % active: ${verdict(c(50), 15)}; with --recalibrate ${verdict(cr(50), 15)}`);
    if (c(25).length && rnd(25).length) {
      const ex = mean(c(25)) - denseR.ppl, exr = mean(rnd(25)) - denseR.ppl;
      lines.push(`- 25 % active: carve's excess ${ex.toFixed(2)} vs random's ${exr.toFixed(2)} (target ≤ half): **${ex <= exr / 2 ? 'met' : 'missed'}**`);
    } else lines.push('- 25 % active: not measured yet');
    lines.push('');
  }
  const div = results.get('diversity');
  if (div) {
    lines.push('Expert diversity (8 experts per layer, mean pairwise cosine of the experts\' concatenated gate/up/down weights, averaged over layers; lower = more diverse):', '', '| experts | mean pairwise cosine |', '| --- | --- |');
    for (const [name, xs] of Object.entries(div.cosine)) lines.push(`| ${name} | ${pm(xs, 4)} |`);
    lines.push('');
  }
  return lines.join('\n');
}

function writeDoc(results, all, seconds) {
  writeMarkedSection(resolve(opts.doc), 'beyond-paper', render(results, all, seconds), 'Beyond the paper: training-free expert construction');
}

// ---- main loop
const t0 = performance.now();
const all = plan();
let ran = 0;
log(`beyond-paper: ${modelDir}, ${all.length} runs planned, work ${relative(process.cwd(), work)}; backend ${backend}`);
for (const r of all) {
  if (existsSync(resultFile(r.name))) continue;
  if (ran >= maxRuns) { log(`stopping after ${ran} run(s) (--max-runs); the same command continues`); break; }
  const t = performance.now();
  log(`[${all.indexOf(r) + 1}/${all.length}] ${r.name}`);
  const res = r.kind === 'dense' ? ppl(dense) : r.kind === 'diversity' ? runDiversity() : await runMoe(r);
  const seconds = (performance.now() - t) / 1000;
  writeFileAtomic(resultFile(r.name), `${JSON.stringify({ run: r, ...res, seconds }, null, 1)}\n`);
  ran++;
  log(`    ${res.ppl !== undefined ? `ppl ${res.ppl.toFixed(3)}` : 'done'} in ${seconds.toFixed(1)} s`);
  writeDoc(done(), all, (performance.now() - t0) / 1000);
}
writeDoc(done(), all, (performance.now() - t0) / 1000);
log(`beyond-paper: ${done().size} results in ${relative(process.cwd(), work)}; doc ${relative(process.cwd(), resolve(opts.doc))}`);
