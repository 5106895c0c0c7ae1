#!/usr/bin/env node
/**
 * Crash safety: SIGKILL the CLI / trainer at random moments and check what is left.
 *
 *   pnpm nx run-many -t build
 *   node tools/reliability/crash.mjs [--trials 10] [--seed 1] [--json OUT]
 *
 * 1. `llama-moe split` of a 6-layer stories15M-shaped model (kill at a random delay within the
 *    measured duration of an uninterrupted split);
 * 2. `llama-moe data prepare` of a synthetic 4-domain corpus;
 * 3. training with save_every 1 (tools/reliability/train-child.mjs): killed up to twice per trial,
 *    then restarted to the end; the per-step losses must equal an uninterrupted run's.
 *
 * After every kill the target path must be either absent or complete and valid (config parses,
 * every tensor reads, same files as an uninterrupted run; a dataset passes `data inspect`).
 * Staging leftovers beside the target (`.NAME.partial-*`, `.NAME.tmp-*`) are counted and listed.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { importBuiltPackage } from '../lib/built-package.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');
const BIN = path.join(repo, 'packages', 'cli', 'bin', 'llama-moe.mjs');
const [llama, data] = await Promise.all([importBuiltPackage('llama-model'), importBuiltPackage('data-sampler')]);

const o = { trials: 10, seed: 1, json: null };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--trials') o.trials = Number(process.argv[++i]);
  else if (a === '--seed') o.seed = Number(process.argv[++i]);
  else if (a === '--json') o.json = process.argv[++i];
  else throw new Error(`crash.mjs: unknown argument '${a}' (use --trials N --seed S --json FILE)`);
}

/** mulberry32: the kill delays are reproducible from --seed. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(o.seed);

/** Run a command; kill it with SIGKILL after `killMs` (null: let it finish). */
function run(args, killMs = null) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const timer = killMs === null ? null : setTimeout(() => child.kill('SIGKILL'), killMs);
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stderr, ms: performance.now() - t0 });
    });
  });
}

const listTree = (dir) => {
  if (!fs.existsSync(dir)) return [];
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      out.push(path.relative(dir, p));
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
};
const leftoversBeside = (target) =>
  fs.readdirSync(path.dirname(target)).filter((n) => n.startsWith(`.${path.basename(target)}.`) || n.startsWith(`${path.basename(target)}.tmp-`));

/** A model folder is valid when config.json parses and every tensor of the checkpoint reads. */
function checkModel(dir, refFiles) {
  const files = listTree(dir);
  if (JSON.stringify(files) !== JSON.stringify(refFiles)) return `files differ from an uninterrupted run: ${files.join(', ')}`;
  try {
    llama.readLlamaConfig(dir);
    const ck = llama.openCheckpoint(dir);
    try {
      for (const k of ck.keys()) ck.readF32(k);
    } finally {
      ck.close();
    }
  } catch (e) {
    return `does not load: ${e.message}`;
  }
  return null;
}

function checkDataset(dir, refFiles) {
  const files = listTree(dir);
  if (JSON.stringify(files) !== JSON.stringify(refFiles)) return `files differ from an uninterrupted run: ${files.join(', ')}`;
  const r = spawnSync(process.execPath, [BIN, 'data', 'inspect', dir, '--json'], { encoding: 'utf8' });
  if (r.status !== 0) return `data inspect failed: ${r.stderr.trim()}`;
  return null;
}

/** One kill-and-check scenario for a CLI command that writes `target`. */
async function killScenario(name, makeArgs, check) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `llama-moe-crash-${name}-`));
  const ref = path.join(root, 'reference');
  const r0 = await run(makeArgs(ref));
  if (r0.code !== 0) throw new Error(`${name}: uninterrupted run failed: ${r0.stderr}`);
  const refFiles = listTree(ref);
  const res = { name, trials: 0, killed: 0, finishedBeforeKill: 0, absent: 0, complete: 0, broken: 0, leftovers: 0, leftoverNames: [], referenceMs: Math.round(r0.ms), problems: [] };
  for (let t = 0; t < o.trials; t++) {
    const target = path.join(root, `out-${t}`);
    // Uniform over the whole run (node start-up included), a little past its end.
    const killMs = Math.round(rand() * r0.ms * 1.05);
    const r = await run(makeArgs(target), killMs);
    res.trials++;
    if (r.signal === 'SIGKILL') res.killed++;
    else if (r.code === 0) res.finishedBeforeKill++;
    else res.problems.push(`trial ${t}: exited ${r.code} without being killed: ${r.stderr.trim()}`);
    if (!fs.existsSync(target)) res.absent++;
    else {
      const bad = check(target, refFiles);
      if (bad) {
        res.broken++;
        res.problems.push(`trial ${t} (kill at ${killMs} ms): ${target} ${bad}`);
      } else res.complete++;
    }
    const left = leftoversBeside(target);
    if (left.length) {
      res.leftovers++;
      res.leftoverNames.push(...left);
    }
  }
  res.root = root;
  return res;
}

async function trainScenario() {
  const child = path.join(here, 'train-child.mjs');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'llama-moe-crash-train-'));
  const ref = path.join(root, 'reference');
  const r0 = await run([child, ref]);
  if (r0.code !== 0) throw new Error(`train: uninterrupted run failed: ${r0.stderr}`);
  const losses = (dir) =>
    fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.kind === 'train').map((r) => [r.step, r.loss, r.grad_norm, r.lr]);
  const refLosses = losses(ref);
  const res = { name: 'train (save_every 1)', trials: 0, kills: 0, identical: 0, differing: 0, invalidCheckpoints: 0, partialLeftAtEnd: 0, referenceMs: Math.round(r0.ms), problems: [] };
  for (let t = 0; t < o.trials; t++) {
    const out = path.join(root, `run-${t}`);
    for (let k = 0; k < 2; k++) {
      const killMs = Math.round(200 + rand() * (r0.ms - 200));
      const r = await run([child, out], killMs);
      if (r.signal === 'SIGKILL') res.kills++;
      else if (r.code !== 0) res.problems.push(`trial ${t}: child exited ${r.code}: ${r.stderr.trim().split('\n')[0]}`);
      // Every folder named checkpoint-<step> must be complete: the trainer renames only finished ones.
      for (const name of fs.existsSync(out) ? fs.readdirSync(out) : []) {
        if (!/^checkpoint-\d+$/.test(name)) continue;
        const dir = path.join(out, name);
        const bad = checkModel(dir, listTree(dir).filter(() => true)) ?? (fs.existsSync(path.join(dir, 'trainer_state.json')) ? null : 'no trainer_state.json');
        let state = null;
        try {
          JSON.parse(fs.readFileSync(path.join(dir, 'trainer_state.json'), 'utf8'));
          state = 'ok';
        } catch (e) {
          state = e.message;
        }
        if (bad || state !== 'ok') {
          res.invalidCheckpoints++;
          res.problems.push(`trial ${t}: ${dir}: ${bad ?? state}`);
        }
      }
    }
    const fin = await run([child, out]);
    res.trials++;
    if (fin.code !== 0) {
      res.problems.push(`trial ${t}: final resume failed: ${fin.stderr.trim().split('\n')[0]}`);
      res.differing++;
      continue;
    }
    const same = JSON.stringify(losses(out)) === JSON.stringify(refLosses);
    if (same) res.identical++;
    else {
      res.differing++;
      res.problems.push(`trial ${t}: per-step losses differ from the uninterrupted run`);
    }
    const partial = fs.readdirSync(out).filter((n) => n.includes('.tmp-') || n.includes('.partial-'));
    if (partial.length) {
      res.partialLeftAtEnd++;
      res.problems.push(`trial ${t}: partial folders left after the resumed run finished: ${partial.join(', ')}`);
    }
  }
  res.root = root;
  return res;
}

const t0 = performance.now();
const setupRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'llama-moe-crash-setup-'));
const dense = path.join(setupRoot, 'dense');
const init = await run([BIN, 'init', '--preset', 'stories15M', '--layers', '6', '--vocab-size', '1024', '--out', dense, '-q']);
if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
// A 4-domain JSONL corpus for data prepare (a few MB, so packing takes a while).
const corpusDir = path.join(setupRoot, 'corpus');
const corpus = data.generateCorpus({ seed: 2, docsPerDomain: 400, domains: ['wikipedia', 'github', 'arxiv', 'book'] });
for (const d of corpus.domains) {
  fs.mkdirSync(path.join(corpusDir, d.name), { recursive: true });
  fs.writeFileSync(path.join(corpusDir, d.name, 'part-0.jsonl'), d.documents.map((t) => JSON.stringify({ text: t })).join('\n') + '\n');
}

const results = [];
results.push(await killScenario('split', (out) => [BIN, 'split', '--model', dense, '--out', out, '--experts', '8', '--top-k', '2', '--method', 'random', '-q'], checkModel));
results.push(await killScenario('data-prepare', (out) => [BIN, 'data', 'prepare', '--input', corpusDir, '--tokenizer', dense, '--seq-len', '64', '--out', out, '-q'], checkDataset));
results.push(await trainScenario());

for (const r of results) {
  console.log(`\n${r.name}: ${r.trials} trials (uninterrupted run ${r.referenceMs} ms)`);
  for (const [k, v] of Object.entries(r)) if (!['name', 'problems', 'root', 'leftoverNames', 'trials', 'referenceMs'].includes(k)) console.log(`  ${k}: ${v}`);
  if (r.leftoverNames?.length) console.log(`  staging leftovers beside the target: ${[...new Set(r.leftoverNames.map((n) => n.replace(/\d+/g, 'N')))].join(', ')}`);
  for (const p of r.problems) console.log(`  PROBLEM ${p}`);
}
console.log(`\ncrash: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
if (o.json) fs.writeFileSync(o.json, JSON.stringify({ trials: o.trials, seed: o.seed, results }, null, 2));
for (const r of results) if (r.root) fs.rmSync(r.root, { recursive: true, force: true });
fs.rmSync(setupRoot, { recursive: true, force: true });
const bad = results.filter((r) => r.broken || r.differing || r.invalidCheckpoints || r.partialLeftAtEnd || r.problems.length);
process.exitCode = bad.length ? 1 : 0;
