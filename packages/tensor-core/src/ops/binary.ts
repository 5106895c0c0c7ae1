/** Elementwise add / sub / mul / div with numpy broadcasting, and scalar variants. */
import { gradBuffer, record } from '../autograd.js';
import { runKernel, type BinaryOpName } from '../registry.js';
import { Tensor, assertFloat } from '../tensor.js';
import { broadcastShapes, expandTo, reduceTo } from './broadcast.js';

function binary(op: BinaryOpName, a: Tensor, b: Tensor): Tensor {
  assertFloat(op, a, b);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const ad = expandTo(a.f32(), a.shape, shape);
  const bd = expandTo(b.f32(), b.shape, shape);
  const out = gradBuffer(ad.length);
  runKernel('binary', { op, a: ad, b: bd, out });
  const t = new Tensor(out, shape);
  return record(t, op, [a, b], (g) => {
    let ga: Float32Array | null = null;
    let gb: Float32Array | null = null;
    const n = g.length;
    if (op === 'add') { ga = g; gb = g; }
    else if (op === 'sub') { ga = g; gb = gradBuffer(n); for (let i = 0; i < n; i++) gb[i] = -g[i]!; }
    else if (op === 'mul') {
      if (a.requiresGrad) { ga = gradBuffer(n); for (let i = 0; i < n; i++) ga[i] = g[i]! * bd[i]!; }
      if (b.requiresGrad) { gb = gradBuffer(n); for (let i = 0; i < n; i++) gb[i] = g[i]! * ad[i]!; }
    } else {
      if (a.requiresGrad) { ga = gradBuffer(n); for (let i = 0; i < n; i++) ga[i] = g[i]! / bd[i]!; }
      if (b.requiresGrad) { gb = gradBuffer(n); for (let i = 0; i < n; i++) { const bv = bd[i]!; gb[i] = (-g[i]! * ad[i]!) / (bv * bv); } }
    }
    return [a.requiresGrad && ga ? reduceTo(ga, shape, a.shape) : null, b.requiresGrad && gb ? reduceTo(gb, shape, b.shape) : null];
  });
}

export const add = (a: Tensor, b: Tensor): Tensor => binary('add', a, b);
export const sub = (a: Tensor, b: Tensor): Tensor => binary('sub', a, b);
export const mul = (a: Tensor, b: Tensor): Tensor => binary('mul', a, b);
export const div = (a: Tensor, b: Tensor): Tensor => binary('div', a, b);

/** x · s for a plain number s. */
export function scale(x: Tensor, s: number): Tensor {
  assertFloat('scale', x);
  const xd = x.f32();
  const out = new Float32Array(xd.length);
  for (let i = 0; i < out.length; i++) out[i] = xd[i]! * s;
  return record(new Tensor(out, x.shape), 'scale', [x], (g) => {
    const gx = new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) gx[i] = g[i]! * s;
    return [gx];
  });
}

/** x + s for a plain number s. */
export function addScalar(x: Tensor, s: number): Tensor {
  assertFloat('addScalar', x);
  const xd = x.f32();
  const out = new Float32Array(xd.length);
  for (let i = 0; i < out.length; i++) out[i] = xd[i]! + s;
  return record(new Tensor(out, x.shape), 'addScalar', [x], (g) => [g]);
}

/** x^p for a plain number p. */
export function pow(x: Tensor, p: number): Tensor {
  assertFloat('pow', x);
  const xd = x.f32();
  const out = new Float32Array(xd.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.pow(xd[i]!, p);
  return record(new Tensor(out, x.shape), 'pow', [x], (g) => {
    const gx = new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) gx[i] = g[i]! * p * Math.pow(xd[i]!, p - 1);
    return [gx];
  });
}
