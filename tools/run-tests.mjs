#!/usr/bin/env node
// Runs every package's `test` target through nx (cached), then adds up the vitest JSON
// reports each target leaves in <package>/.vitest/results.json and prints the one line
// that CI reads: `N passed, N failed`.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const projectDirs = ['packages', 'apps'].flatMap((d) =>
  existsSync(join(root, d)) ? readdirSync(join(root, d)).map((p) => join(root, d, p)) : [],
).filter((p) => existsSync(join(p, 'package.json')));

// Stale reports must not be counted: nx restores them from its cache when a target is a hit.
for (const p of projectDirs) rmSync(join(p, '.vitest'), { recursive: true, force: true });

const args = ['run-many', '-t', 'test', '--outputStyle=stream', '--parallel=1', ...process.argv.slice(2)];
const r = spawnSync('nx', args, { cwd: root, stdio: 'inherit', env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' } });

let passed = 0, failed = 0, skipped = 0, missing = [];
for (const p of projectDirs) {
  const pkg = JSON.parse(readFileSync(join(p, 'package.json'), 'utf8'));
  if (!pkg.scripts?.test) continue;
  const report = join(p, '.vitest', 'results.json');
  if (!existsSync(report)) { missing.push(pkg.name); continue; }
  const j = JSON.parse(readFileSync(report, 'utf8'));
  passed += j.numPassedTests; failed += j.numFailedTests; skipped += j.numPendingTests + (j.numTodoTests ?? 0);
}
if (missing.length) console.log(`no test report from: ${missing.join(', ')}`);
const bad = r.status !== 0 || missing.length > 0;
if (bad && failed === 0) failed = Math.max(1, missing.length);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(bad || failed ? 1 : 0);
