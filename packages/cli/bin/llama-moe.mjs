#!/usr/bin/env node
// The llama-moe command line. Plain ESM: it imports the built package (../dist/index.js).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { COMPUTE_NODE_FLAGS, RERUN_ENV, nodeAcceptsFlags, rerunArgs } from './node-flags.mjs';

const dist = new URL('../dist/index.js', import.meta.url);
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const WATCH_PARENT = `const { workerData } = require('node:worker_threads');
setInterval(() => { if (process.ppid !== workerData) process.kill(process.pid, 'SIGKILL'); }, 250);`;

const rerun = rerunArgs({ argv: process.argv.slice(2), execArgv: process.execArgv, env: process.env, script: fileURLToPath(import.meta.url) });
if (rerun && nodeAcceptsFlags(process.execPath, COMPUTE_NODE_FLAGS)) runInChild(rerun);
else await runHere();

/** Training commands run in a child node with the flags of node-flags.mjs (why: see there). */
function runInChild(args) {
  const child = spawn(process.execPath, args, { stdio: 'inherit', env: { ...process.env, [RERUN_ENV]: '1' } });
  const forward = (sig) => child.kill(sig);
  for (const sig of SIGNALS) process.on(sig, forward);
  child.on('error', (e) => {
    process.stderr.write(`llama-moe: could not start node for the command (${e.message}) (set LLAMA_MOE_NODE_FLAGS=off to run it in this process)\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (code !== null) process.exit(code);
    // died of a signal: die of the same one, so that the shell sees what happened
    for (const sig of SIGNALS) process.off(sig, forward);
    process.exitCode = 128 + (constants.signals[signal] ?? 0);
    process.kill(process.pid, signal);
  });
}

async function runHere() {
  if (process.env[RERUN_ENV] === '1') {
    // The re-run child dies with its parent, SIGKILL included. Training loops do not yield to the
    // event loop, so the watch runs on a worker thread: a new parent pid means ours is gone.
    const watch = new Worker(WATCH_PARENT, { eval: true, workerData: process.ppid });
    watch.unref();
  }

  // `llama-moe ... | head` closes stdout early: stop quietly instead of crashing on EPIPE.
  process.stdout.on('error', (e) => {
    if (e && e.code === 'EPIPE') process.exit(0);
    throw e;
  });

  const notBuilt = (detail) => {
    process.stderr.write(`llama-moe: the command line is not built (${detail}) (run \`pnpm build\` first)\n`);
    process.exit(1);
  };

  if (!existsSync(dist)) notBuilt('packages/cli/dist/index.js is missing');

  let cli;
  try {
    cli = await import(dist.href);
  } catch (e) {
    // A workspace dependency without its dist/ fails here with ERR_MODULE_NOT_FOUND.
    if (e && (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND')) notBuilt(String(e.message).split('\n')[0]);
    throw e;
  }

  process.exitCode = await cli.main(process.argv.slice(2));
}
