/** @llama-moe/tensor-core/native: the Node-only GEMM on onnxruntime-node's MLAS (an optional dependency). */
export { initNativeBackend, disposeNativeBackend, nativeMatmul, OrtGemm, type NativeBackendOptions, type NativeBackendStatus, type OrtGemmOptions } from './backends/native/index.js';
