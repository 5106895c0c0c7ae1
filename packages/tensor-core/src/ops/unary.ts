/** Pointwise nonlinearities with their derivatives: SiLU, tanh, softplus, sigmoid, exp, ReLU, GELU, sqrt, log, neg. */
import { gradBuffer, record } from '../autograd.js';
import { runKernel, type UnaryOpName } from '../registry.js';
import { Tensor, assertFloat } from '../tensor.js';

function derivative(op: UnaryOpName, x: number, y: number): number {
  switch (op) {
    case 'silu': { const s = 1 / (1 + Math.exp(-x)); return s * (1 + x * (1 - s)); }
    case 'sigmoid': return y * (1 - y);
    case 'tanh': return 1 - y * y;
    case 'softplus': return x > 20 ? 1 : 1 / (1 + Math.exp(-x));
    case 'exp': return y;
    case 'neg': return -1;
    case 'relu': return x > 0 ? 1 : 0;
    case 'gelu': {
      const cdf = y / (x === 0 ? 1 : x);
      const pdf = Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
      return x === 0 ? 0.5 : cdf + x * pdf;
    }
    case 'sqrt': return 0.5 / y;
    case 'log': return 1 / x;
  }
}

export function unary(op: UnaryOpName, x: Tensor): Tensor {
  assertFloat(op, x);
  const xd = x.f32();
  const out = gradBuffer(xd.length);
  runKernel('unary', { op, x: xd, out });
  return record(new Tensor(out, x.shape), op, [x], (g) => {
    const gx = gradBuffer(g.length);
    for (let i = 0; i < g.length; i++) gx[i] = g[i]! * derivative(op, xd[i]!, out[i]!);
    return [gx];
  });
}

export const silu = (x: Tensor): Tensor => unary('silu', x);
export const tanh = (x: Tensor): Tensor => unary('tanh', x);
export const softplus = (x: Tensor): Tensor => unary('softplus', x);
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x);
export const exp = (x: Tensor): Tensor => unary('exp', x);
export const neg = (x: Tensor): Tensor => unary('neg', x);
export const relu = (x: Tensor): Tensor => unary('relu', x);
export const gelu = (x: Tensor): Tensor => unary('gelu', x);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x);
export const log = (x: Tensor): Tensor => unary('log', x);
