/**
 * @llama-moe/tensor-core: tensors, reverse-mode autograd, ops, the kernel registry and backend
 * selection. Browser-safe. The backends sit under their own entry points:
 * `@llama-moe/tensor-core/wasm` (WebAssembly SIMD), `/gpujs` (gpu.js), `/native` (onnxruntime-node's
 * MLAS, Node only), `/cpu` (the plain-TypeScript oracle kernels); benchmarks under `/bench`.
 */
export * from './errors.js';
export * from './dtype.js';
export * from './registry.js';
export * from './tensor.js';
export { noGrad, isGradEnabled, needsGrad, record, gradBuffer, releaseGradBuffers, type BackwardOptions, type GradNode, type GradSlot } from './autograd.js';
export * from './ops/index.js';
export { createRng, type Rng, randn, uniform, type RngState } from './random.js';
export { gradCheck, type GradCheckOptions, type GradCheckResult } from './gradcheck.js';
export { useDefaultBackend, type DefaultBackendResult } from './default-backend.js';
export { pinTensors, isPinned, PIN_MAX_FLOATS, type PinOptions, type PinResult } from './pin-tensors.js';
export type { WeightArenaOptions } from './backends/wasm/weight-arena.js';
