/**
 * Shared helpers of the bench harness: loading the built packages, rows, logging, child
 * processes and atomic writes (tools/lib/atomic.mjs). Everything here is plain Node (no workspace imports), so a
 * package that fails to build only fails the sections that need it.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importBuiltPackage } from '../lib/built-package.mjs';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Cache of generated checkpoints and scratch space; everything but the dense checkpoints is deleted after use. */
export const CACHE_DIR = '/tmp/llama-moe-bench';

const loaded = new Map();

/**
 * The built package (packages/<dir>/dist): every entry point's exports merged (tools/lib/built-package.mjs),
 * imported by file path so every package shares the one tensor-core instance (and kernel registry).
 */
export async function pkg(dir) {
  if (loaded.has(dir)) return loaded.get(dir);
  const mod = await importBuiltPackage(dir);
  loaded.set(dir, mod);
  return mod;
}

const t0 = performance.now();
/** Progress goes to stderr, so stdout holds only the table (or the JSON). */
export function log(msg) {
  process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`);
}

/**
 * One table row. `goal` (extra field) is the target from the issues, e.g. '>= 0.6' or '<= 2',
 * stated on the ratio (or on `ours` when there is no peer).
 */
export function row(name, ours, peer, unit, opts = {}) {
  const ok = (v) => typeof v === 'number' && Number.isFinite(v);
  const o = ok(ours) ? ours : null;
  const p = ok(peer) ? peer : null;
  const ratio = opts.ratio !== undefined ? (ok(opts.ratio) ? opts.ratio : null) : o !== null && p !== null && p !== 0 ? o / p : null;
  const r = { name, ours: o, peer: p, unit, ratio };
  if (opts.goal) r.goal = opts.goal;
  if (opts.note) r.note = opts.note;
  return r;
}

/** The message of an error, first line only, for a row's note. */
export function errorText(e) {
  const m = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return m.split('\n')[0].slice(0, 300);
}

/**
 * Run one measurement. On a throw, the rows named in `expect` are recorded with ours = null and
 * the error in `note`, and the bench goes on.
 * @param {{ name: string, unit: string, goal?: string }[]} expect
 * @param {() => Promise<object[]> | object[]} fn
 */
export async function attempt(rows, expect, fn, { load = true } = {}) {
  try {
    const a = cpuSample();
    const got = await fn();
    const share = load ? foreignShare(a, cpuSample()) : undefined;
    if (share !== undefined && share > 0.05) {
      const busy = `machine busy: other processes took ${(share * 100).toFixed(0)}% of the CPU during this measurement`;
      for (const r of got) r.note = r.note ? `${r.note}; ${busy}` : busy;
    }
    rows.push(...got);
  } catch (e) {
    const why = errorText(e);
    log(`FAILED (${expect.map((x) => x.name).join('; ')}): ${why}`);
    for (const x of expect) rows.push(row(x.name, null, null, x.unit, { goal: x.goal, note: `failed: ${why}` }));
  }
}

/**
 * CPU accounting from /proc (Linux; undefined elsewhere): busy seconds of the whole machine, and
 * of this process (all threads) plus its reaped children (the bench's child processes).
 */
export function cpuSample() {
  try {
    // USER_HZ is 100 on Linux: jiffies -> seconds
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const busy = (f.reduce((x, y) => x + y, 0) - f[3] - f[4]) / 100;
    const st = readFileSync('/proc/self/stat', 'utf8');
    const s = st.slice(st.lastIndexOf(')') + 2).split(' ').map(Number);
    return { busy, own: (s[11] + s[12] + s[13] + s[14]) / 100, wall: performance.now() / 1000 };
  } catch {
    return undefined;
  }
}

/** Share of the machine's CPU (0..1) that other processes used between two samples. */
export function foreignShare(a, b) {
  if (!a || !b || b.wall - a.wall < 0.5) return undefined;
  return Math.max(0, (b.busy - a.busy - (b.own - a.own)) / ((b.wall - a.wall) * cpus().length));
}

/**
 * Run `node <script> <json>` and parse the one JSON line it prints on stdout. Throws with the
 * child's last stderr line when it fails.
 */
export function runChild(script, args, { timeoutMs = 600_000, nodeFlags = [] } = {}) {
  const r = spawnSync(process.execPath, [...nodeFlags, join(ROOT, 'tools', 'bench', script), JSON.stringify(args)], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.error) throw new Error(`${script}: ${r.error.message}`);
  const lastErr = (r.stderr || '').trim().split('\n').pop() || '';
  if (r.status !== 0) throw new Error(`${script} exited with ${r.status ?? r.signal}${lastErr ? `: ${lastErr}` : ''}`);
  const line = (r.stdout || '').trim().split('\n').pop();
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`${script} printed no JSON result${lastErr ? ` (${lastErr})` : ''}`);
  }
}

export { writeFileAtomic } from '../lib/atomic.mjs';
