/** RMSNorm (LlamaRMSNorm): y = x / sqrt(mean(x²) + eps) · weight over the last axis. */
import { record } from '../autograd.js';
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
  const out = new Float32Array(x.size);
  const inv = new Float32Array(rows);
  runKernel('rmsnorm', { x: xd, weight: wd, out, rows, cols, eps, invRms: inv });
  return record(new Tensor(out, x.shape), 'rmsNorm', [x, weight], (g) => {
    const gx = x.requiresGrad ? new Float32Array(x.size) : null;
    const gw = weight.requiresGrad ? new Float32Array(cols) : null;
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      const iv = inv[r]!;
      // n = x·inv; y = n·w. dn = g·w; dx = inv·(dn − n·mean(dn·n)).
      let dot = 0;
      for (let c = 0; c < cols; c++) dot += g[o + c]! * wd[c]! * xd[o + c]! * iv;
      const meanDot = dot / cols;
      for (let c = 0; c < cols; c++) {
        const n = xd[o + c]! * iv;
        if (gw) gw[c]! += g[o + c]! * n;
        if (gx) gx[o + c] = iv * (g[o + c]! * wd[c]! - n * meanDot);
      }
    }
    return [gx, gw];
  });
}
