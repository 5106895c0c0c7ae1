/**
 * Vite config of the playground. Workspace packages are bundled from their TypeScript sources
 * (the `@llama-moe/source` export condition), so the page needs no prior `pnpm build`.
 *
 * Node builtins: @llama-moe/llama-model and @llama-moe/expert-partition import node:fs, node:path
 * and node:worker_threads at the top of their file-system modules (checkpoint folders, atomic
 * writes), some as named imports (`import { threadId } from 'node:worker_threads'`). Vite's own
 * browser shim is a Proxy that throws on first property access, which a named import does while
 * the module loads in the dev server, so the page would die before it starts. The plugin below
 * gives exactly those builtins a stub module instead: every export exists, and functions throw
 * only when called (the page never calls them: it loads through MemoryCheckpoint). Any other
 * builtin still goes through Vite's default handling and its warning.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { defaultClientConditions, defineConfig, type Plugin } from 'vite';

/** Node builtins the workspace packages import in modules the page does not call. */
const STUBBED_BUILTINS = ['node:fs', 'node:path', 'node:worker_threads', 'node:module', 'node:url'];
const STUB_PREFIX = '\0playground-node-stub:';

/** Browser stubs for STUBBED_BUILTINS, with the export names of the real modules (read here in Node). */
function nodeBuiltinStubs(): Plugin {
  return {
    name: 'playground-node-builtin-stubs',
    enforce: 'pre',
    resolveId(id) {
      if (this.environment?.config.consumer !== 'client') return null;
      const name = id.startsWith('node:') ? id : `node:${id}`;
      return STUBBED_BUILTINS.includes(name) ? STUB_PREFIX + name : null;
    },
    async load(id) {
      if (!id.startsWith(STUB_PREFIX)) return null;
      const name = id.slice(STUB_PREFIX.length);
      const real = (await import(name)) as Record<string, unknown>;
      const names = Object.keys(real).filter((k) => k !== 'default' && /^[A-Za-z_$][\w$]*$/.test(k));
      const lines = [
        `const fail = (n) => function () { throw new Error(${JSON.stringify(name)} + '.' + n + '() is not available in the browser (the playground reads models from memory)'); };`,
        ...names.map((k) => (typeof real[k] === 'function' ? `export const ${k} = fail(${JSON.stringify(k)});` : `export const ${k} = undefined;`)),
        `export default { ${names.join(', ')} };`,
      ];
      return lines.join('\n');
    },
  };
}

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
  plugins: [nodeBuiltinStubs(), serveModelDir()],
});
