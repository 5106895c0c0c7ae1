#!/usr/bin/env node
// The llama-moe command line. Plain ESM: it imports the built package (../dist/index.js).
import { existsSync } from 'node:fs';

const dist = new URL('../dist/index.js', import.meta.url);

// `llama-moe ... | head` closes stdout early: stop quietly instead of crashing on EPIPE.
process.stdout.on('error', (e) => {
  if (e && e.code === 'EPIPE') process.exit(0);
  throw e;
});

function notBuilt(detail) {
  process.stderr.write(`llama-moe: the command line is not built (${detail}) (run \`pnpm build\` first)\n`);
  process.exit(1);
}

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
