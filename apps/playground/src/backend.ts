/**
 * Compute backend selection for the page: the plain-TypeScript cpu kernels, or tensor-core's
 * gpu.js backend. gpu.js picks its mode itself (webgl2 → webgl → webasm/cpu) and falls back
 * silently, so the page reports the mode that actually ran, never the one asked for.
 */
import { kernelCounts, resetKernelCounts, setBackend } from '@llama-moe/tensor-core';
import { disposeGpujsBackend, gpujsBackendInfo, initGpujsBackend, isGpujsBackendReady } from '@llama-moe/tensor-core/gpujs';

export type BackendChoice = 'cpu' | 'gpujs';

export interface BackendState {
  /** What is selected now (after a failed gpujs init this is 'cpu'). */
  active: BackendChoice;
  /** One line for the page, e.g. "gpujs · mode webgl2" or "cpu". */
  label: string;
  /** gpu.js mode that ran (null for cpu). */
  gpujsMode: string | null;
  /** Why gpujs is not active, when it was asked for and failed. */
  error: string | null;
}

/**
 * gpu.js names all its WebGL kernels' mode 'gpu' (the static `mode` of its GL base class), so
 * tensor-core's gpujsBackendInfo() says 'gpu' for both WebGL2 and WebGL. gpu.js's auto choice
 * takes WebGL2 whenever a canvas yields a WebGL2RenderingContext (WebGL2Kernel.isSupported), so
 * the same check here names the API that ran.
 */
export function resolveGlMode(mode: string): string {
  if (mode !== 'gpu') return mode;
  if (typeof document === 'undefined') return 'headlessgl';
  const ctx = document.createElement('canvas').getContext('webgl2');
  const webgl2 = typeof WebGL2RenderingContext !== 'undefined' && ctx instanceof WebGL2RenderingContext;
  (ctx?.getExtension('WEBGL_lose_context') as { loseContext(): void } | null)?.loseContext();
  return webgl2 ? 'webgl2' : 'webgl';
}

/** Switch the tensor-core backend chain. Never throws: a gpujs failure leaves cpu active and says why. */
export async function selectBackend(choice: BackendChoice): Promise<BackendState> {
  if (choice === 'cpu') {
    setBackend('cpu');
    if (isGpujsBackendReady()) await disposeGpujsBackend();
    return { active: 'cpu', label: 'cpu (TypeScript kernels)', gpujsMode: null, error: null };
  }
  try {
    const info = await initGpujsBackend({ mode: 'gpu' });
    setBackend('gpujs');
    const mode = resolveGlMode(info.mode);
    return { active: 'gpujs', label: `gpujs · mode ${mode}`, gpujsMode: mode, error: null };
  } catch (e) {
    setBackend('cpu');
    return { active: 'cpu', label: 'cpu (TypeScript kernels)', gpujsMode: null, error: `gpu.js failed to start: ${(e as Error).message}` };
  }
}

/** After a run: the gpu.js modes kernels really ran in (and any fallback reason), for the page. */
export function gpujsRunDetail(): string | null {
  if (!isGpujsBackendReady()) return null;
  const info = gpujsBackendInfo();
  const modes = (info.kernelModes.length ? info.kernelModes : [info.mode]).map(resolveGlMode).join(', ');
  return `kernels ran in: ${modes}${info.fallbackReason ? ` (fallback: ${info.fallbackReason})` : ''}`;
}

/** Kernel calls per backend since `resetKernelCounts()`, e.g. "matmul: gpujs 96, cpu 4 · softmax: cpu 8". */
export function kernelUsage(): string {
  const by = new Map<string, string[]>();
  for (const [key, n] of Object.entries(kernelCounts()).sort()) {
    const [kernel, backend] = key.split('/') as [string, string];
    const list = by.get(kernel) ?? [];
    list.push(`${backend} ${n}`);
    by.set(kernel, list);
  }
  return [...by].map(([k, v]) => `${k}: ${v.join(', ')}`).join(' · ');
}

export { resetKernelCounts };
