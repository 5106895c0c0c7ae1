/**
 * The matmul backend the demo trains on. The plain TypeScript kernels are the reference but run a
 * training step several times slower than onnxruntime's MLAS (`native`, shipped prebuilt with
 * onnxruntime-node) or the WebAssembly SIMD GEMM (`wasm`, pure TypeScript); `auto` takes the
 * first that initialises. The previous backend chain is restored afterwards and what this module
 * started (the wasm worker pool keeps a process alive) is disposed, so an in-process caller (a
 * test, an embedding program) finds tensor-core as it left it.
 */
import { disposeNativeBackend, disposeWasmBackend, getBackendChain, initNativeBackend, initWasmBackend, registeredBackends, setBackend } from '@llama-moe/tensor-core';
import { CliError } from '../errors.js';

export const DEMO_BACKENDS = ['auto', 'native', 'wasm', 'cpu'] as const;
export type DemoBackend = (typeof DEMO_BACKENDS)[number];

export interface ActiveBackend {
  /** The backend now first in the chain. */
  name: 'native' | 'wasm' | 'cpu';
  /** One line for logs and summaries. */
  detail: string;
  /** Restore the previous chain and dispose what was started here. */
  release(): void;
}

export async function activateBackend(choice: DemoBackend): Promise<ActiveBackend> {
  const saved = [...getBackendChain()];
  const had = new Set(registeredBackends());
  const started: ('native' | 'wasm')[] = [];
  const notes: string[] = [];
  const release = () => {
    for (const b of started.splice(0)) (b === 'native' ? disposeNativeBackend : disposeWasmBackend)();
    // The saved chain only names backends that were registered before, and those stay registered.
    setBackend(saved.filter((b) => b === 'cpu' || registeredBackends().includes(b)));
  };
  const tryNative = (): string | null => {
    if (had.has('native')) return 'native (already initialised)';
    const s = initNativeBackend();
    if (!s.ok) {
      notes.push(`native unavailable: ${s.reason}`);
      return null;
    }
    started.push('native');
    return s.detail;
  };
  const tryWasm = async (): Promise<string | null> => {
    if (had.has('wasm')) return 'wasm (already initialised)';
    const s = await initWasmBackend({ threads: 2 });
    if (!s.ok) {
      notes.push(`wasm unavailable: ${s.reason}`);
      return null;
    }
    started.push('wasm');
    return s.detail;
  };
  if (choice === 'cpu') {
    setBackend('cpu');
    return { name: 'cpu', detail: 'cpu (TypeScript kernels)', release };
  }
  if (choice === 'native' || choice === 'auto') {
    const d = tryNative();
    if (d) {
      setBackend(['native']);
      return { name: 'native', detail: d, release };
    }
    if (choice === 'native') {
      release();
      throw new CliError(`--backend native: ${notes.join('; ')}`, "use --backend wasm or cpu (or auto)");
    }
  }
  const d = await tryWasm();
  if (d) {
    setBackend(['wasm']);
    return { name: 'wasm', detail: d, release };
  }
  if (choice === 'wasm') {
    release();
    throw new CliError(`--backend wasm: ${notes.join('; ')}`, 'use --backend cpu (or auto)');
  }
  setBackend('cpu');
  return { name: 'cpu', detail: `cpu (TypeScript kernels; ${notes.join('; ')})`, release };
}
