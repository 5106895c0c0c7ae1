/** Optimizer updates as kernels: the fastest backend of the chain runs them, `cpu` is the oracle. */
import { ShapeError } from '../errors.js';
import { runKernel, type AdamwArgs, type AdamwStateArgs } from '../registry.js';

/**
 * One AdamW update of a parameter, its moments in place (see AdamwArgs for the arithmetic).
 * `name` labels errors. Every array must have the parameter's length.
 */
export function adamwUpdate(args: AdamwArgs, name = 'parameter'): void {
  const n = args.param.length;
  for (const [k, a] of [['grad', args.grad], ['expAvg', args.expAvg], ['expAvgSq', args.expAvgSq]] as const) {
    if (a.length !== n) throw new ShapeError('adamwUpdate', `'${name}': ${k} has ${a.length} elements, the parameter has ${n}`);
  }
  runKernel('adamw', args);
}

/**
 * Σ x² over several arrays, each element promoted to f64 and the sum kept in f64 (what a global
 * gradient norm needs: torch's clip_grad_norm_ on f32 gradients). SIMD on the wasm backend.
 */
export function sumOfSquares(arrays: Iterable<Float32Array>): number {
  /** [1] running sum */
  const acc = new Float64Array(1);
  for (const x of arrays) if (x.length) runKernel('sumSquares', { x, acc });
  return acc[0]!;
}

/**
 * Zeroed AdamW moments (m, v) for parameters of these sizes, in order. On the wasm backend they are
 * views of one WebAssembly memory that `adamwUpdate` updates in place (3 array copies per element
 * instead of 7); anywhere else, plain Float32Arrays. Allocate all of an optimizer's state at once.
 */
export function allocAdamwState(sizes: readonly number[]): AdamwStateArgs['out'] {
  const out: AdamwStateArgs['out'] = [];
  if (sizes.length) runKernel('adamwState', { sizes, out });
  return out;
}
