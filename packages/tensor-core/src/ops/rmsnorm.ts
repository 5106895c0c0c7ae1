/** RMSNorm (LlamaRMSNorm): y = x / sqrt(mean(x²) + eps) · weight over the last axis. */
import { gradBuffer, record } from '../autograd.js';
import { ShapeError, fmtShape } from '../errors.js';
import { runKernel } from '../registry.js';
import { Tensor, assertFloat } from '../tensor.js';

export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  assertFloat('rmsNorm', x, weight);
  const cols = x.shape[x.rank - 1] ?? 0;
  if (weight.rank !== 1 || weight.shape[0] !== cols) {
    throw new ShapeError('rmsNorm', `weight ${fmtShape(weight.shape)}${weight.name ? ` ('${weight.name}')` : ''} does not match input ${fmtShape(x.shape)}`);
  }
  const rows = cols ? x.size / cols : 0;
  const xd = x.f32();
  const wd = weight.f32();
  const out = gradBuffer(x.size);
  const inv = new Float32Array(rows);
  runKernel('rmsnorm', { x: xd, weight: wd, out, rows, cols, eps, invRms: inv });
  return record(new Tensor(out, x.shape), 'rmsNorm', [x, weight], (g) => {
    const gx = x.requiresGrad ? gradBuffer(x.size) : null; // overwritten by the kernel
    const gw = weight.requiresGrad ? new Float32Array(cols) : null;
    runKernel('rmsnormBackward', { x: xd, weight: wd, invRms: inv, g, rows, cols, gx, gw });
    return [gx, gw];
  });
}
