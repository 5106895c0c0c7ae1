/** softmax and log-softmax over the last axis. */
import { record } from '../autograd.js';
import { runKernel } from '../registry.js';
import { Tensor, assertFloat } from '../tensor.js';

export function softmax(x: Tensor): Tensor {
  assertFloat('softmax', x);
  const cols = x.shape[x.rank - 1] ?? 1;
  const rows = cols ? x.size / cols : 0;
  const out = new Float32Array(x.size);
  runKernel('softmax', { x: x.f32(), out, rows, cols });
  return record(new Tensor(out, x.shape), 'softmax', [x], (g) => {
    // dx = y ⊙ (g − Σ g·y)
    const gx = new Float32Array(x.size);
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let dot = 0;
      for (let c = 0; c < cols; c++) dot += g[o + c]! * out[o + c]!;
      for (let c = 0; c < cols; c++) gx[o + c] = out[o + c]! * (g[o + c]! - dot);
    }
    return [gx];
  });
}

export function logSoftmax(x: Tensor): Tensor {
  assertFloat('logSoftmax', x);
  const xd = x.f32();
  const cols = x.shape[x.rank - 1] ?? 1;
  const rows = cols ? x.size / cols : 0;
  const out = new Float32Array(x.size);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let mx = -Infinity;
    for (let c = 0; c < cols; c++) if (xd[o + c]! > mx) mx = xd[o + c]!;
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(xd[o + c]! - mx);
    const lse = mx + Math.log(s);
    for (let c = 0; c < cols; c++) out[o + c] = xd[o + c]! - lse;
  }
  return record(new Tensor(out, x.shape), 'logSoftmax', [x], (g) => {
    // dx = g − softmax · Σ g
    const gx = new Float32Array(x.size);
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let gs = 0;
      for (let c = 0; c < cols; c++) gs += g[o + c]!;
      for (let c = 0; c < cols; c++) gx[o + c] = g[o + c]! - Math.exp(out[o + c]!) * gs;
    }
    return [gx];
  });
}
