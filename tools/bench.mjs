#!/usr/bin/env node
/**
 * `pnpm bench`: every performance figure of the issues beside its peer, measured in one run on
 * this machine, from the BUILT packages (packages/*\/dist; `pnpm bench` builds them first).
 *
 *   node tools/bench.mjs            aligned table on stdout (figure | ours | peer | unit | ratio)
 *   node tools/bench.mjs --json     only a JSON array [{ name, ours, peer, unit, ratio, goal?, note? }]
 *   --only a,b / --skip a,b         run some sections (gemm, inference, moe, train, data, convert);
 *                                   a partial run does not rewrite docs/PERFORMANCE.md
 *   --smoke                         check that the rows come out, quickly: the llama.cpp rows on
 *                                   stories15M only, the PyTorch rows on the demo and stories15M
 *                                   shapes, one round each; never rewrites docs/PERFORMANCE.md
 *
 * `inference` holds ours beside llama.cpp (node-llama-cpp 3.21.1) on the stories15M / stories110M
 * shapes, dense and MoE 4/16; `train` ours beside a plain PyTorch LLaMA / LLaMA-MoE
 * (tools/bench/torch_train.py on /usr/bin/python3 with python3-torch and OpenBLAS; without them
 * those peers are skipped, and stderr says why). The per-op profile section of
 * docs/PERFORMANCE.md is written by `node tools/bench/profile.mjs` and kept by this script.
 *
 * Progress goes to stderr. A full run writes docs/PERFORMANCE.md (machine, date, table, notes)
 * atomically. Each measurement is guarded: one that throws becomes a row with ours = null and
 * the error in `note`, and the run goes on. ~15 minutes on 2 quiet cores (plus ~2 min the first
 * time, to write the cached 7B-shaped checkpoints under /tmp/llama-moe-bench).
 */
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { convertSection } from './bench/convert.mjs';
import { dataSection } from './bench/data.mjs';
import { gemmSection } from './bench/gemm.mjs';
import { llamaCppSection, oracleSection } from './bench/inference.mjs';
import { moeSection } from './bench/moe.mjs';
import { extractProfile, machineInfo, renderMarkdown, renderTable } from './bench/report.mjs';
import { trainSection } from './bench/train.mjs';
import { ROOT, errorText, log, pkg, row, writeFileAtomic } from './bench/util.mjs';

/**
 * Alternated rounds of ours and llama.cpp per model (best of each reported). On this class of VM a
 * decode round swings 20–40 % with the neighbours' load (once 29 against 171 tok/s for the same
 * code minutes apart), and only ever slower, so the best of more rounds is the steadier figure:
 * with 3 the stories15M dense decode ratio read 0.71 and 1.17 in two runs of the same code.
 */
const ROUNDS_LLAMA_CPP = 5;

const SECTIONS = ['gemm', 'inference', 'moe', 'train', 'data', 'convert'];

function parseArgs(argv) {
  const o = { json: false, only: null, skip: [], smoke: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const list = (v) => {
      const names = (v ?? '').split(',').filter(Boolean);
      const bad = names.filter((n) => !SECTIONS.includes(n));
      if (bad.length || !names.length) throw new Error(`${a}: expected a comma-separated list of ${SECTIONS.join(', ')}, got '${v ?? ''}'`);
      return names;
    };
    if (a === '--json') o.json = true;
    else if (a === '--smoke') o.smoke = true;
    else if (a === '--only') o.only = list(argv[++i]);
    else if (a.startsWith('--only=')) o.only = list(a.slice(7));
    else if (a === '--skip') o.skip = list(argv[++i]);
    else if (a.startsWith('--skip=')) o.skip = list(a.slice(7));
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: node tools/bench.mjs [--json] [--only SECTIONS] [--skip SECTIONS] [--smoke]\n');
      process.exit(0);
    } else throw new Error(`unknown option '${a}' (expected --json, --only, --skip, --smoke)`);
  }
  return o;
}

/** Register the fastest matmul backends; returns the chain to use and a label for the rows. */
async function initFastBackends() {
  const tc = await pkg('tensor-core');
  const chain = [];
  const nat = tc.initNativeBackend();
  log(`native backend: ${nat.ok ? nat.detail : `unavailable (${nat.reason})`}`);
  if (nat.ok) chain.push('native');
  const wasm = await tc.initWasmBackend();
  log(`wasm backend: ${wasm.ok ? wasm.detail : `unavailable (${wasm.reason})`}`);
  if (wasm.ok) chain.push('wasm');
  return { chain, label: [...chain, 'cpu'].join('→') };
}

async function disposeBackends() {
  try {
    const tc = await pkg('tensor-core');
    tc.disposeNativeBackend();
    tc.disposeWasmBackend();
  } catch {
    // nothing was started
  }
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`bench: ${e.message}\n`);
    return 2;
  }
  const want = (s) => (opts.only ? opts.only.includes(s) : true) && !opts.skip.includes(s);
  const partial = opts.smoke || SECTIONS.some((s) => !want(s));
  const t0 = performance.now();
  const date = new Date().toISOString();
  const machine = machineInfo();
  const loadStart = loadavg()[0];
  log(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB.toFixed(1)} GiB, Node ${machine.node}, numpy ${machine.numpy}`);

  const rows = [];
  /** A whole section that throws outside its own guards (e.g. a package that is not built). */
  const guard = async (name, fn) => {
    if (!want(name)) return;
    const s0 = performance.now();
    try {
      await fn();
    } catch (e) {
      log(`section ${name} FAILED: ${errorText(e)}`);
      rows.push(row(`${name} (section)`, null, null, '', { note: `failed: ${errorText(e)}` }));
    }
    log(`section ${name} done in ${((performance.now() - s0) / 1000).toFixed(0)} s`);
  };

  let peakGflops = null;
  await guard('gemm', async () => {
    const r = await gemmSection();
    rows.push(...r.rows);
    peakGflops = r.peakGflops;
  });

  let fast = { chain: [], label: 'cpu' };
  if (['inference', 'moe', 'train', 'convert'].some(want)) {
    try {
      fast = await initFastBackends();
    } catch (e) {
      log(`fast backends unavailable: ${errorText(e)}`);
    }
  }

  await guard('inference', async () => {
    // ours beside llama.cpp (node-llama-cpp), dense and MoE 4/16, each model in its own child process
    rows.push(...(await llamaCppSection({ chain: fast.chain, presets: opts.smoke ? ['stories15M'] : ['stories15M', 'stories110M'], rounds: opts.smoke ? 1 : ROUNDS_LLAMA_CPP })));
    // the plain TypeScript oracle, for reference (stories15M only: stories110M would take minutes)
    rows.push(...(await oracleSection({ presets: ['stories15M'] })));
  });
  await guard('moe', async () => rows.push(...(await moeSection({ chain: fast.chain }))));
  await guard('train', async () => rows.push(...(await trainSection({ peakGflops, chain: fast.chain, chainLabel: fast.label, ...(opts.smoke ? { shapes: ['demo', 'stories15M'], rounds: 1, steps: 2 } : {}) }))));
  await guard('data', async () => rows.push(...(await dataSection())));
  await guard('convert', async () => rows.push(...(await convertSection())));
  await disposeBackends();

  const seconds = (performance.now() - t0) / 1000;
  log(`all done in ${(seconds / 60).toFixed(1)} min`);
  if (opts.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else process.stdout.write(`${renderTable(rows)}\n`);
  for (const r of rows.filter((x) => x.ours === null)) log(`no figure for '${r.name}': ${r.note ?? ''}`);

  if (partial) {
    log(`${opts.smoke ? 'smoke run (--smoke)' : 'partial run (--only/--skip)'}: docs/PERFORMANCE.md left as it is`);
  } else {
    const doc = join(ROOT, 'docs', 'PERFORMANCE.md');
    try {
      // the profile section is tools/bench/profile.mjs's: kept as it is
      const profile = existsSync(doc) ? extractProfile(readFileSync(doc, 'utf8')) : '';
      writeFileAtomic(doc, renderMarkdown({ machine, date, rows, seconds, load: [loadStart, loadavg()[0]], profile }));
      log(`wrote ${doc}`);
    } catch (e) {
      log(`could not write ${doc}: ${errorText(e)}`);
      return 1;
    }
  }
  return 0;
}

// worker pools (wasm GEMM, gpu.js) may keep the event loop alive: exit explicitly
main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`bench: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
