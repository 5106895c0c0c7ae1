/**
 * The matmul backend the demo and the tools train on: tensor-core's default chain (onnxruntime's
 * MLAS `native`, then the WebAssembly SIMD GEMM, then the plain TypeScript kernels), which `main`
 * selects for every command; `LLAMA_MOE_BACKEND=cpu` (or a comma-separated chain) overrides it.
 * The chain is recorded in summaries and READMEs because backends round differently.
 */
import { getBackendChain, useDefaultBackend } from '@llama-moe/tensor-core';

/** `native → wasm → cpu`: the active chain, most preferred first. */
export function backendDescription(): string {
  return getBackendChain().join(' → ');
}

/** Select the default chain (tools/*.mjs do not go through `main`); returns its description. */
export async function useFastestBackend(): Promise<string> {
  await useDefaultBackend().catch(() => undefined);
  return backendDescription();
}
