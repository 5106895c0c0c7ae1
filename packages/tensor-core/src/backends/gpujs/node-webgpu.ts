/**
 * WebGPU for gpu.js under Node. gpu.js's webgpu backend reads `navigator.gpu`, which browsers
 * provide and Node does not; the `webgpu` npm package (Dawn, a dependency of gpu.js) supplies
 * it. Loaded only by `initGpujsBackend({ mode: 'webgpu' })` when `navigator.gpu` is missing, so
 * browsers and every other mode never touch `node:module` or the Dawn binary.
 */
import { TensorError } from '../../errors.js';

type NodeRequire = ((id: string) => unknown) & { resolve(id: string): string };

/**
 * A Node built-in through process.getBuiltinModule (Node >= 20.16), not a static `node:` import,
 * so bundlers targeting the browser never see one in the gpujs entry point.
 */
function nodeBuiltin<T>(id: string): T {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof proc?.getBuiltinModule !== 'function') throw new Error('not running under Node >= 20.16 (process.getBuiltinModule missing)');
  return proc.getBuiltinModule(id) as T;
}

interface DawnModule {
  create(flags: string[]): unknown;
  globals: Record<string, unknown>;
}

/**
 * Install `navigator.gpu` from Dawn. Returns an undo function (drops the reference: Dawn keeps
 * the Node process alive while `navigator.gpu` is reachable).
 */
export async function installNodeWebGPU(): Promise<() => void> {
  let dawn: DawnModule;
  try {
    // `webgpu` is gpu.js's dependency, not ours: resolve it from gpu.js's own location
    const { createRequire } = nodeBuiltin<{ createRequire(url: string): NodeRequire }>('node:module');
    const { pathToFileURL } = nodeBuiltin<{ pathToFileURL(path: string): URL }>('node:url');
    const here = createRequire(import.meta.url);
    const webgpuEntry = createRequire(here.resolve('gpu.js')).resolve('webgpu');
    dawn = (await import(pathToFileURL(webgpuEntry).href)) as DawnModule;
  } catch (err) {
    throw new TensorError(
      'backend',
      'initGpujsBackend',
      `mode 'webgpu': could not load the Dawn binary of the 'webgpu' package (${(err as Error).message.split('\n')[0]}); ` +
        `it needs a GPU driver and libstdc++ with GLIBCXX_3.4.32 — use mode 'gpu' on this machine`,
    );
  }
  const g = globalThis as { navigator?: { gpu?: unknown } };
  for (const [name, value] of Object.entries(dawn.globals)) {
    if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
  }
  const gpu = dawn.create([]);
  if (g.navigator === undefined) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    return () => {
      delete (globalThis as { navigator?: unknown }).navigator;
    };
  }
  Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
  return () => {
    delete g.navigator!.gpu;
  };
}
