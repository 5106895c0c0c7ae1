/** @llama-moe/tensor-core/bench: GEMM and copy-bandwidth benchmarks (Node), and the gpu.js GEMM benchmark. */
export { benchGemm, benchCopyBandwidth, type BenchRow, type BenchGemmOptions } from './gemm.js';
export { benchGpujs, type BenchRow as GpujsBenchRow } from '../backends/gpujs/bench.js';
