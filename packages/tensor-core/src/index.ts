export * from './errors.js';
export * from './dtype.js';
export * from './registry.js';
export * from './tensor.js';
export { noGrad, isGradEnabled, needsGrad, record, type GradNode } from './autograd.js';
