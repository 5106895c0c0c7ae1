export * from './errors.js';
export * from './dtype.js';
export * from './registry.js';
export * from './tensor.js';
export { noGrad, isGradEnabled, needsGrad, record, type GradNode } from './autograd.js';
export * from './ops/index.js';
export { registerCpuBackend, matmulCpu, binaryCpu, unaryCpu, swigluCpu, softmaxCpu, rmsnormCpu, erf, unaryScalar } from './backends/cpu/index.js';
export { createRng, type Rng, randn, uniform, type RngState } from './random.js';
export { gradCheck, type GradCheckOptions, type GradCheckResult } from './gradcheck.js';
