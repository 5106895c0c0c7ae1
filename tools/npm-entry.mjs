#!/usr/bin/env node
// Entry point behind the root `npm test`, `npm run demo` and `npm run bench`.
// On a fresh machine with only Node 20 and npm it bootstraps pnpm (the version pinned in
// package.json's `packageManager`), installs the workspace, builds it, then runs the task.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [task, ...rest] = process.argv.slice(2);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pnpmVersion = pkg.packageManager.split('@')[1];

/**
 * opts.setup: the command only prepares (install, build): its stdout goes to our stderr, so that
 * stdout carries nothing but the task's own output (`pnpm bench --json | jq` works).
 */
function run(cmd, args, opts = {}) {
  const stdio = opts.setup ? ['inherit', 2, 'inherit'] : 'inherit';
  const r = spawnSync(cmd, args, { cwd: root, stdio, env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', ...opts.env } });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function pnpm(args, opts) {
  // A pnpm of the pinned version on PATH is used as is; otherwise npx fetches it once from the registry.
  const probe = spawnSync('pnpm', ['--version'], { encoding: 'utf8' });
  if (!probe.error && probe.stdout.trim() === pnpmVersion) return run('pnpm', args, opts);
  return run('npx', ['--yes', `pnpm@${pnpmVersion}`, ...args], opts);
}

function ensureInstalled() {
  const lock = join(root, 'pnpm-lock.yaml');
  const marker = join(root, 'node_modules', '.modules.yaml');
  const fresh = existsSync(marker) && existsSync(lock) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs;
  if (fresh) return;
  const args = ['install', ...(existsSync(lock) && process.env.CI ? ['--frozen-lockfile'] : [])];
  if (pnpm(args, { setup: true }) !== 0) { console.error('llama-moe: `pnpm install` failed (see above)'); process.exit(1); }
}

ensureInstalled();
switch (task) {
  case 'test': {
    const code = pnpm(['exec', 'node', 'tools/run-tests.mjs', ...rest]);
    process.exit(code);
  }
  case 'bench': {
    if (pnpm(['exec', 'nx', 'run-many', '-t', 'build', '--outputStyle=static'], { setup: true }) !== 0) process.exit(1);
    process.exit(pnpm(['exec', 'node', 'tools/bench.mjs', ...rest]));
  }
  case 'demo': {
    if (pnpm(['exec', 'nx', 'run-many', '-t', 'build', '--outputStyle=static'], { setup: true }) !== 0) process.exit(1);
    process.exit(run(process.execPath, ['packages/cli/bin/llama-moe.mjs', 'demo', ...rest]));
  }
  default:
    console.error(`llama-moe: unknown task '${task}' (expected test, demo or bench)`);
    process.exit(2);
}
