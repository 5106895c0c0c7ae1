#!/usr/bin/env node
/**
 * Fuzz every parser of the built packages (dist) with fast-check: the safetensors reader,
 * config.json, model.safetensors.index.json, tokenizer.json, the Arrow / Parquet / JSONL / text
 * readers, the sampler state, and the trainer's checkpoint files. Each target runs in its own
 * worker thread; the main thread is a watchdog that terminates a worker whose current case has
 * run longer than --hang-ms (a sync infinite loop cannot be interrupted from inside).
 *
 *   pnpm nx run-many -t build
 *   node tools/reliability/fuzz.mjs [--runs 10000] [--seed 42] [--only NAME] [--json OUT] [--stacks]
 *
 * Prints per target: cases, ok (accepted), typed (refused with the library's error), failures
 * (an untyped error leaked), slow (> 2 s), memory (ArrayBuffers grew > 256 MB), time.
 * Exit code 1 when any target has a failure, a hang, a slow case or a memory flag. A worker whose
 * heap passes 3 GB or that pushes the process's RSS past 6 GB is terminated ('oom' finding) and
 * the next case continues in a fresh worker.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { importBuiltPackage } from '../lib/built-package.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

/** The built packages plus the two helpers the data target needs (apache-arrow, the test Parquet writer). */
export async function loadDistLibs() {
  const req = createRequire(path.join(repo, 'packages', 'data-sampler', 'package.json'));
  const [fcMod, llama, data, trainer, arrow, pq] = await Promise.all([
    import('fast-check'),
    importBuiltPackage('llama-model'),
    importBuiltPackage('data-sampler'),
    importBuiltPackage('trainer'),
    import(pathToFileURL(req.resolve('apache-arrow')).href),
    import('@llama-moe/test-support/parquet-writer'),
  ]);
  return { fc: fcMod.default ?? fcMod, llama, data, trainer, arrow, parquetBytes: pq.writeParquetBytes };
}

function parseArgv(argv) {
  const o = { runs: 10_000, seed: 42, only: null, json: null, hangMs: 5_000, maxHangs: 50, heapMb: 3072, rssMb: 6144, arrowRuns: 1000, stacks: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--runs') o.runs = Number(argv[++i]);
    else if (a === '--seed') o.seed = Number(argv[++i]);
    else if (a === '--only') o.only = argv[++i];
    else if (a === '--json') o.json = argv[++i];
    else if (a === '--hang-ms') o.hangMs = Number(argv[++i]);
    else if (a === '--stacks') o.stacks = true;
    else if (a === '--max-hangs') o.maxHangs = Number(argv[++i]);
    else if (a === '--arrow-runs') o.arrowRuns = Number(argv[++i]);
    else throw new Error(`fuzz.mjs: unknown argument '${a}' (use --runs N --seed S --only NAME --json FILE --hang-ms MS --stacks)`);
  }
  return o;
}

async function workerMain() {
  const { targetName, runs, seed, stacks, from } = workerData;
  const libs = await loadDistLibs();
  const { createTargets, runTarget } = await import('@llama-moe/test-support/fuzz');
  const { targets, cleanupAll } = createTargets(libs);
  const target = targets.find((t) => t.name === targetName);
  try {
    const stats = await runTarget(libs.fc, target, {
      numRuns: runs, seed, stacks, from,
      onCase: (i) => parentPort.postMessage({ type: 'case', i }),
      onOutcome: (o) => parentPort.postMessage({ type: 'outcome', o }),
      onExample: (ex) => parentPort.postMessage({ type: 'example', ex }),
    });
    parentPort.postMessage({ type: 'done', stats });
  } finally {
    cleanupAll();
  }
}

/** One target in a worker; after a hang the worker is terminated and a new one continues at the next case. */
async function runInWorker(targetName, options) {
  // The Arrow reader stalls on a few percent of inputs (apache-arrow trusts lengths; see
  // docs/RELIABILITY.md), each costing --hang-ms, so it gets its own (smaller) case count.
  const o = { ...options, runs: targetName === 'arrow reader' ? options.arrowRuns : options.runs };
  const hangs = [];
  let from = 0;
  // Tallied here from per-case messages, so counts survive a worker terminated after a hang.
  const stats = { name: targetName, cases: 0, ok: 0, typed: 0, failures: 0, slow: 0, memory: 0, maxMs: 0, maxArrayBufferGrowth: 0, examples: [], hangs };
  const t0 = performance.now();
  for (;;) {
    const r = await runWorkerOnce(targetName, o, from, stats);
    if (r.hang) {
      hangs.push(r.hang);
      stats.cases++;
      from = r.hang.caseIndex + 1;
      if (from >= o.runs || hangs.length >= o.maxHangs) break;
      continue;
    }
    if (r.crashed) return { ...stats, crashed: r.crashed };
    break;
  }
  stats.ms = performance.now() - t0;
  return stats;
}

function runWorkerOnce(targetName, o, from, stats) {
  return new Promise((resolve) => {
    // A heap cap per worker: a lying length that makes a parser build a giant JS array kills the
    // worker (ERR_WORKER_OUT_OF_MEMORY, reported as an 'oom' finding), not the machine.
    const w = new Worker(fileURLToPath(import.meta.url), {
      workerData: { targetName, runs: o.runs, seed: o.seed, stacks: o.stacks, from },
      resourceLimits: { maxOldGenerationSizeMb: o.heapMb },
    });
    let last = { i: -1, at: Date.now() };
    let done = false;
    const dog = setInterval(() => {
      // ArrayBuffers are outside the worker's heap cap: watch the whole process's RSS too.
      if (last.i >= from && process.memoryUsage.rss() > o.rssMb * 2 ** 20) {
        clearInterval(dog);
        done = true;
        // Resolve only once the worker is gone and its memory is back.
        void w.terminate().then(() => resolve({ hang: { caseIndex: last.i, ms: Date.now() - last.at, oom: true } }));
        return;
      }
      if (last.i >= from && Date.now() - last.at > o.hangMs) {
        clearInterval(dog);
        done = true;
        void w.terminate().then(() => resolve({ name: targetName, hang: { caseIndex: last.i, ms: Date.now() - last.at } }));
      }
    }, 250);
    w.on('message', (m) => {
      if (m.type === 'case') last = { i: m.i, at: Date.now() };
      else if (m.type === 'outcome') {
        const x = m.o;
        stats.cases++;
        if (x.outcome === 'ok') stats.ok++;
        else if (x.outcome === 'typed') stats.typed++;
        else stats.failures++;
        if (x.slow) stats.slow++;
        if (x.memory) stats.memory++;
        stats.maxMs = Math.max(stats.maxMs, x.ms);
        stats.maxArrayBufferGrowth = Math.max(stats.maxArrayBufferGrowth, x.grow);
      } else if (m.type === 'example') stats.examples.push(m.ex);
      else if (m.type === 'done') {
        done = true;
        clearInterval(dog);
        resolve({ done: true });
      }
    });
    w.on('error', (e) => {
      if (done) return;
      done = true;
      clearInterval(dog);
      if (e?.code === 'ERR_WORKER_OUT_OF_MEMORY') resolve({ hang: { caseIndex: last.i, ms: Date.now() - last.at, oom: true } });
      else resolve({ name: targetName, crashed: String(e?.stack ?? e) });
    });
    w.on('exit', (code) => {
      if (done) return;
      done = true;
      clearInterval(dog);
      resolve({ name: targetName, crashed: `worker exited with code ${code}` });
    });
  });
}

async function main() {
  const o = parseArgv(process.argv.slice(2));
  const libs = await loadDistLibs();
  const { createTargets, describeInput } = await import('@llama-moe/test-support/fuzz');
  const names = createTargets(libs).targets.map((t) => t.name).filter((n) => !o.only || n.includes(o.only));
  const results = [];
  const pad = (s, n) => String(s).padEnd(n);
  console.log(`fuzz: ${o.runs} cases per target (arrow reader: ${o.arrowRuns}), seed ${o.seed}, hang after ${o.hangMs} ms, node ${process.version}`);
  console.log(`${pad('target', 44)}${pad('cases', 8)}${pad('ok', 7)}${pad('typed', 7)}${pad('fail', 6)}${pad('slow', 6)}${pad('mem', 5)}${pad('max ms', 9)}${pad('max AB MB', 11)}time s`);
  for (const name of names) {
    const r = await runInWorker(name, o);
    results.push(r);
    if (r.crashed) {
      console.log(`${pad(name, 44)}CRASHED: ${r.crashed}`);
      continue;
    }
    console.log(
      `${pad(name, 44)}${pad(r.cases, 8)}${pad(r.ok, 7)}${pad(r.typed, 7)}${pad(r.failures, 6)}${pad(r.slow, 6)}${pad(r.memory, 5)}${pad(r.maxMs.toFixed(0), 9)}${pad((r.maxArrayBufferGrowth / 2 ** 20).toFixed(1), 11)}${(r.ms / 1000).toFixed(1)}`,
    );
    for (const ex of r.examples) console.log(`    [${ex.kind}] ${ex.detail}\n      input: ${ex.input}`);
    if (r.hangs.length) {
      // Re-create each hanging input from the same seed for the report.
      const t = createTargets(libs).targets.find((x) => x.name === name);
      for (const h of r.hangs) {
        h.input = describeInput(libs.fc.sample(t.arb, { numRuns: h.caseIndex + 1, seed: o.seed })[h.caseIndex]);
        console.log(`    [${h.oom ? 'oom' : 'hang'}] case ${h.caseIndex} ${h.oom ? `ran out of memory (worker heap > ${o.heapMb} MB or process RSS > ${o.rssMb} MB)` : `still running after ${h.ms} ms`} (worker terminated; continued at the next case)\n      input: ${h.input}`);
      }
    }
  }
  if (o.json) fs.writeFileSync(o.json, JSON.stringify({ runs: o.runs, seed: o.seed, node: process.version, results }, null, 2));
  const bad = results.filter((r) => r.crashed || r.hangs?.length || r.failures || r.slow || r.memory);
  console.log(bad.length ? `fuzz: ${bad.length} target(s) with findings: ${bad.map((r) => r.name).join(', ')}` : 'fuzz: no findings');
  process.exitCode = bad.length ? 1 : 0;
}

if (isMainThread) await main();
else await workerMain();
