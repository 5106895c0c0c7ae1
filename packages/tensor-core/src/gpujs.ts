/** @llama-moe/tensor-core/gpujs: the gpu.js backend (WebGL in browsers; headless GL or WebGPU in Node). */
export {
  GPUJS_BACKEND,
  initGpujsBackend,
  disposeGpujsBackend,
  isGpujsBackendReady,
  gpujsBackendInfo,
  matmulAsync,
  GPUJS_MAX_KERNEL_ELEMENTS,
  planMatmulTiles,
  type GpujsMode,
  type GpujsBackendOptions,
  type GpujsBackendInfo,
  type KernelCacheStats,
  type MatmulTile,
} from './backends/gpujs/index.js';
