/**
 * The fastest available backend chain for this platform, chosen once at start-up: in Node the
 * native GEMM (onnxruntime-node's MLAS, shipped prebuilt in the npm package, optional), then the
 * WebAssembly-SIMD GEMM with a worker pool, then the plain-TS `cpu` oracle. Browsers get wasm
 * (single-threaded without cross-origin isolation) then cpu. `LLAMA_MOE_BACKEND=cpu` (or a
 * comma-separated chain) overrides the choice; the chain that was set is returned.
 */
import { initNativeBackend } from './backends/native/index.js';
import { initWasmBackend } from './backends/wasm/index.js';
import { getBackendChain, setBackend } from './registry.js';

export interface DefaultBackendResult {
  chain: readonly string[];
  notes: string[];
}

const cache = new Map<string, Promise<DefaultBackendResult>>();

/** Idempotent per requested chain: backends are initialised once per process. */
export function useDefaultBackend(opts: { prefer?: string | string[] } = {}): Promise<DefaultBackendResult> {
  const key = JSON.stringify(opts.prefer ?? null) + (typeof process !== 'undefined' ? process.env?.LLAMA_MOE_BACKEND ?? '' : '');
  let p = cache.get(key);
  if (!p) {
    p = init(opts);
    cache.set(key, p);
  }
  return p.then((r) => {
    setBackend(r.chain.filter((b) => b !== 'cpu'));
    return r;
  });
}

async function init(opts: { prefer?: string | string[] }): Promise<DefaultBackendResult> {
  const env = typeof process !== 'undefined' ? process.env?.LLAMA_MOE_BACKEND : undefined;
  const wanted = opts.prefer ?? (env ? env.split(',').map((s) => s.trim()).filter(Boolean) : ['native', 'wasm']);
  const list = typeof wanted === 'string' ? [wanted] : wanted;
  const notes: string[] = [];
  const ok: string[] = [];
  for (const b of list) {
    if (b === 'cpu') continue;
    if (b === 'native') {
      const s = initNativeBackend();
      if (s.ok) ok.push('native');
      else notes.push(`native: ${s.reason}`);
    } else if (b === 'wasm') {
      const s = await initWasmBackend();
      if (s.ok) ok.push('wasm');
      else notes.push(`wasm: ${(s as { reason?: string }).reason ?? 'unavailable'}`);
    } else {
      notes.push(`${b}: not initialised by useDefaultBackend (call its init function first)`);
    }
  }
  setBackend(ok);
  return { chain: getBackendChain(), notes };
}
