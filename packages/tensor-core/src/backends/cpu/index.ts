/**
 * The `cpu` backend: plain TypeScript, always registered, the oracle every other backend is
 * tested against.
 */
import { registerKernel } from '../../registry.js';
import { binaryCpu, sumSquaresCpu, swigluBackwardCpu, swigluCpu, unaryCpu } from './elementwise.js';
import { matmulCpu } from './matmul.js';
import { adamwCpu, adamwStateCpu } from './adamw.js';
import { expRowsCpu } from './exp-rows.js';
import { scatterAddRowsBackwardCpu, scatterAddRowsCpu } from './scatter-add-rows.js';
import { rmsnormBackwardCpu, rmsnormCpu } from './rmsnorm.js';
import { softmaxCpu } from './softmax.js';
import { maskedSoftmaxBackwardCpu, maskedSoftmaxCpu } from './masked-softmax.js';
import { takeColsCpu } from './take-cols.js';

export { matmulCpu, binaryCpu, sumSquaresCpu, unaryCpu, swigluCpu, swigluBackwardCpu, softmaxCpu, rmsnormCpu, rmsnormBackwardCpu, adamwCpu, expRowsCpu, scatterAddRowsCpu, scatterAddRowsBackwardCpu, maskedSoftmaxCpu, maskedSoftmaxBackwardCpu, takeColsCpu };
export { adamwScalars, type AdamwScalars } from './adamw.js';
export { erf, unaryScalar } from './elementwise.js';

let registered = false;
/** Idempotent; called by the op layer before the first kernel runs. */
export function registerCpuBackend(): void {
  if (registered) return;
  registered = true;
  registerKernel({ kernel: 'matmul', backend: 'cpu', fn: matmulCpu });
  registerKernel({ kernel: 'binary', backend: 'cpu', fn: binaryCpu });
  registerKernel({ kernel: 'sumSquares', backend: 'cpu', fn: sumSquaresCpu });
  registerKernel({ kernel: 'unary', backend: 'cpu', fn: unaryCpu });
  registerKernel({ kernel: 'softmax', backend: 'cpu', fn: softmaxCpu });
  registerKernel({ kernel: 'rmsnorm', backend: 'cpu', fn: rmsnormCpu });
  registerKernel({ kernel: 'rmsnormBackward', backend: 'cpu', fn: rmsnormBackwardCpu });
  registerKernel({ kernel: 'swiglu', backend: 'cpu', fn: swigluCpu });
  registerKernel({ kernel: 'swigluBackward', backend: 'cpu', fn: swigluBackwardCpu });
  registerKernel({ kernel: 'adamw', backend: 'cpu', fn: adamwCpu });
  registerKernel({ kernel: 'adamwState', backend: 'cpu', fn: adamwStateCpu });
  registerKernel({ kernel: 'expRows', backend: 'cpu', fn: expRowsCpu });
  registerKernel({ kernel: 'maskedSoftmax', backend: 'cpu', fn: maskedSoftmaxCpu });
  registerKernel({ kernel: 'maskedSoftmaxBackward', backend: 'cpu', fn: maskedSoftmaxBackwardCpu });
  registerKernel({ kernel: 'scatterAddRows', backend: 'cpu', fn: scatterAddRowsCpu });
  registerKernel({ kernel: 'scatterAddRowsBackward', backend: 'cpu', fn: scatterAddRowsBackwardCpu });
  registerKernel({ kernel: 'takeCols', backend: 'cpu', fn: takeColsCpu });
}
