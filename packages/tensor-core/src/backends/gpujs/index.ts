/**
 * Public API of the gpujs backend. Importing this has no side effects and does not load gpu.js;
 * `await initGpujsBackend()` does, and registers the kernels under backend name 'gpujs'.
 */
export {
  GPUJS_BACKEND,
  initGpujsBackend,
  disposeGpujsBackend,
  isGpujsBackendReady,
  gpujsBackendInfo,
  matmulAsync,
  type GpujsMode,
  type GpujsBackendOptions,
  type GpujsBackendInfo,
} from './backend.js';
export { benchGpujs, type BenchRow } from './bench.js';
export type { KernelCacheStats } from './kernel-cache.js';
export { GPUJS_MAX_KERNEL_ELEMENTS, planMatmulTiles, type MatmulTile } from './tiling.js';
