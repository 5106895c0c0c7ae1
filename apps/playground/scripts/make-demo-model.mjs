#!/usr/bin/env node
// Writes the playground's demo model (default: public/demo-model, served by `vite dev` at
// /demo-model/). Runs scripts/demo-model.ts through Vite's module runner, so the workspace
// packages are used from their TypeScript sources and nothing needs building first.
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { defaultServerConditions, runnerImport } from 'vite';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const out = resolve(process.argv[2] ?? join(root, 'public', 'demo-model'));
const { module } = await runnerImport(join(root, 'scripts', 'demo-model.ts'), {
  root,
  configFile: false,
  logLevel: 'warn',
  resolve: { conditions: ['@llama-moe/source', ...defaultServerConditions] },
  ssr: { resolve: { conditions: ['@llama-moe/source', ...defaultServerConditions], externalConditions: ['@llama-moe/source'] } },
});
const info = module.makeDemoModel(out, { overwrite: true });
process.stdout.write(`demo model written to ${info.dir} (${info.layers} layers, ${info.experts} experts, top-${info.topK})\n`);
