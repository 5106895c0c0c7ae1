// Shared by tools/pretrain-demo.mjs and tools/reproduce-paper.mjs: load the built demo machinery
// (packages/cli/dist/demo), with a one-line hint when the workspace is not built yet.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));

export async function loadDemo() {
  const url = new URL('../../packages/cli/dist/demo/index.js', import.meta.url);
  if (!existsSync(fileURLToPath(url))) {
    process.stderr.write('packages/cli/dist/demo/index.js is missing (run `pnpm nx run-many -t build` first)\n');
    process.exit(1);
  }
  return import(url.href);
}

/** process.stderr as the trainer's progress stream. */
export const stderrProgress = { write: (s) => process.stderr.write(s), isTTY: !!process.stderr.isTTY, columns: process.stderr.columns };

export function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}
