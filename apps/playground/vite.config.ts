/**
 * Vite config of the playground. Workspace packages are bundled from their TypeScript sources
 * (the `@llama-moe/source` export condition), so the page needs no prior `pnpm build`.
 *
 * The page imports only the packages' browser-safe roots (and tensor-core's gpujs entry point), so
 * no Node built-in is reachable and none needs a stub; a test (test/vite-config.test.ts) keeps it so.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { defaultClientConditions, defineConfig, type Plugin } from 'vite';

const TYPES: Record<string, string> = { '.json': 'application/json', '.safetensors': 'application/octet-stream' };

/**
 * `PLAYGROUND_MODEL_DIR=/path/to/model pnpm dev` serves that folder at /demo-model/ (dev and
 * preview), so any local model folder can be tried without copying it into public/.
 */
function serveModelDir(): Plugin {
  const dir = process.env.PLAYGROUND_MODEL_DIR ? resolve(process.env.PLAYGROUND_MODEL_DIR) : null;
  const handle = (req: IncomingMessage, res: ServerResponse, next: () => void) => {
    const url = (req.url ?? '').split('?')[0]!;
    if (!dir || !url.startsWith('/demo-model/')) return next();
    const name = decodeURIComponent(url.slice('/demo-model/'.length));
    const file = join(dir, basename(name));
    if (name !== basename(name) || !existsSync(file) || !statSync(file).isFile()) {
      res.statusCode = 404;
      res.end(`not found: ${name}`);
      return;
    }
    const ext = name.slice(name.lastIndexOf('.'));
    res.setHeader('content-type', TYPES[ext] ?? 'application/octet-stream');
    res.setHeader('content-length', String(statSync(file).size));
    createReadStream(file).pipe(res);
  };
  return {
    name: 'playground-model-dir',
    configureServer(server) {
      server.middlewares.use(handle);
    },
    configurePreviewServer(server) {
      server.middlewares.use(handle);
    },
  };
}

export default defineConfig({
  // Relative asset URLs: the built page works from any folder it is served from.
  base: './',
  resolve: { conditions: ['@llama-moe/source', ...defaultClientConditions] },
  optimizeDeps: {
    // CommonJS/UMD dependencies of the workspace packages, pre-bundled once for the dev server
    // (gpu.js is imported lazily, so the dev server would otherwise discover it mid-session).
    include: ['@llama-moe/tensor-core > gpu.js', '@llama-moe/llama-model > @huggingface/tokenizers'],
  },
  build: {
    target: 'es2022',
    // gpu.js's browser bundle is ~1 MB and loads only when the gpujs backend is picked.
    chunkSizeWarningLimit: 1200,
    // The build is small; rolldown's plugin-timing advice is noise in test logs.
    rolldownOptions: { checks: { pluginTimings: false } },
  },
  plugins: [serveModelDir()],
});
