/**
 * The `cpu` backend: plain TypeScript, always registered, the oracle every other backend is
 * tested against.
 */
import { binaryCpu, sumSquaresCpu, swigluBackwardCpu, swigluCpu, unaryCpu } from './elementwise.js';
import { matmulCpu } from './matmul.js';
import { adamwCpu, adamwStateCpu } from './adamw.js';
import { expRowsCpu } from './exp-rows.js';
import { scatterAddRowsBackwardCpu, scatterAddRowsCpu } from './scatter-add-rows.js';
import { rmsnormBackwardCpu, rmsnormCpu } from './rmsnorm.js';
import { softmaxCpu } from './softmax.js';
import { maskedSoftmaxBackwardCpu, maskedSoftmaxCpu } from './masked-softmax.js';
import { takeColsCpu } from './take-cols.js';
import { swigluExpertsCpu } from './swiglu-experts.js';

export { matmulCpu, binaryCpu, sumSquaresCpu, unaryCpu, swigluCpu, swigluBackwardCpu, softmaxCpu, rmsnormCpu, rmsnormBackwardCpu, adamwCpu, expRowsCpu, scatterAddRowsCpu, scatterAddRowsBackwardCpu, maskedSoftmaxCpu, maskedSoftmaxBackwardCpu, takeColsCpu, swigluExpertsCpu };
export { adamwScalars, type AdamwScalars } from './adamw.js';
export { erf, unaryScalar } from './elementwise.js';

/**
 * The cpu kernels by name: the registry registers them (registry.ts imports this table; this
 * module imports nothing of the registry, so the two do not import each other).
 */
export const CPU_KERNELS = {
  matmul: matmulCpu, binary: binaryCpu, sumSquares: sumSquaresCpu, unary: unaryCpu, softmax: softmaxCpu, rmsnorm: rmsnormCpu,
  rmsnormBackward: rmsnormBackwardCpu, swiglu: swigluCpu, swigluBackward: swigluBackwardCpu, adamw: adamwCpu, adamwState: adamwStateCpu,
  expRows: expRowsCpu, maskedSoftmax: maskedSoftmaxCpu, maskedSoftmaxBackward: maskedSoftmaxBackwardCpu, scatterAddRows: scatterAddRowsCpu,
  scatterAddRowsBackward: scatterAddRowsBackwardCpu, takeCols: takeColsCpu, swigluExperts: swigluExpertsCpu,
} as const;
