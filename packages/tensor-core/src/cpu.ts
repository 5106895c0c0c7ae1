/**
 * @llama-moe/tensor-core/cpu: the plain-TypeScript `cpu` backend, the oracle every other backend
 * is tested against. It is registered by the registry itself; these are its kernels for direct use.
 */
export { registerCpuBackend } from './registry.js';
export { CPU_KERNELS, matmulCpu, binaryCpu, sumSquaresCpu, unaryCpu, swigluCpu, swigluBackwardCpu, softmaxCpu, rmsnormCpu, rmsnormBackwardCpu, adamwCpu, expRowsCpu, scatterAddRowsCpu, scatterAddRowsBackwardCpu, takeColsCpu, adamwScalars, type AdamwScalars, erf, unaryScalar } from './backends/cpu/index.js';
