import { describe, expect, it } from 'vitest';
import { gradBuffer, noGrad, recycleGradBuffers, releaseGradBuffers } from './autograd.js';
import { TensorError } from './errors.js';
import { Tensor, tensor } from './tensor.js';
import * as ops from './ops/index.js';

describe('autograd engine', () => {
  it('accumulates into leaf grads across uses and across backward calls', () => {
    const x = tensor([1, 2, 3], [3], { requiresGrad: true });
    ops.sum(ops.mul(x, x)).backward(); // d/dx Σx² = 2x
    expect(Array.from(x.grad!.data)).toEqual([2, 4, 6]);
    ops.sum(x).backward();
    expect(Array.from(x.grad!.data)).toEqual([3, 5, 7]);
  });
  it('records nothing under noGrad and refuses backward without a graph', () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    const y = noGrad(() => ops.sum(ops.mul(x, x)));
    expect(y.node).toBeNull();
    expect(() => y.backward()).toThrow(TensorError);
  });
  it('releases the graph after backward (nothing retained between steps)', () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    const h = ops.tanh(x);
    const y = ops.sum(h);
    y.backward();
    expect(y.node).toBeNull();
    expect(h.node).toBeNull();
    expect(h.grad).toBeNull(); // intermediates get no .grad
  });
  it('handles a deep chain without recursion limits', () => {
    const x = tensor([0.5], [1], { requiresGrad: true });
    let y: Tensor = x;
    for (let i = 0; i < 20000; i++) y = ops.addScalar(y, 0);
    ops.sum(y).backward();
    expect(x.grad!.data[0]).toBe(1);
  });
  it('needs a scalar or an explicit gradient', () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    expect(() => ops.mul(x, x).backward()).toThrow(/implicit gradient needs a scalar/);
    ops.mul(x, x).backward(new Float32Array([1, 1]));
    expect(Array.from(x.grad!.data)).toEqual([2, 4]);
  });

  it('clearGrad: grad reads null, the next backward writes the kept buffer in place (GEMM weight gradients, embedding rows), with the same values as fresh buffers', () => {
    const mk = () => ({
      w: new Tensor(Float32Array.from({ length: 12 }, (_, i) => (i % 5) - 2), [4, 3], { requiresGrad: true }),
      e: new Tensor(Float32Array.from({ length: 15 }, (_, i) => i / 7 - 1), [5, 3], { requiresGrad: true }),
      unused: new Tensor(new Float32Array(3).fill(1), [3], { requiresGrad: true }),
    });
    const loss = (p: ReturnType<typeof mk>, ids: number[]) => {
      const h = ops.embedding(p.e, new Tensor(Int32Array.from(ids), [ids.length]));
      // w used twice: the second GEMM accumulates into the first one's gradient
      return ops.sum(ops.add(ops.linear(h, p.w), ops.linear(ops.mul(h, h), p.w)));
    };
    const kept = mk();
    loss(kept, [0, 2, 2]).backward();
    const wBuf = kept.w.grad!.data, eBuf = kept.e.grad!.data;
    kept.w.clearGrad(); kept.e.clearGrad(); kept.unused.clearGrad();
    expect(kept.w.grad).toBeNull();
    expect(kept.e.grad).toBeNull();
    expect(kept.unused.grad).toBeNull();
    loss(kept, [4, 1, 1]).backward();
    // the same buffers, now holding only this backward's gradient
    expect(kept.w.grad!.data).toBe(wBuf);
    expect(kept.e.grad!.data).toBe(eBuf);
    expect(kept.unused.grad).toBeNull(); // no backward reached it: still skipped by optimizers
    const fresh = mk();
    loss(fresh, [4, 1, 1]).backward();
    expect(Array.from(kept.w.grad!.data)).toEqual(Array.from(fresh.w.grad!.data));
    expect(Array.from(kept.e.grad!.data)).toEqual(Array.from(fresh.e.grad!.data));
    // without clearGrad the next backward adds, as before
    loss(fresh, [4, 1, 1]).backward();
    fresh.w.grad!.data.forEach((v, i) => expect(v).toBeCloseTo(2 * kept.w.grad!.data[i]!, 5));
    // assigning null drops the buffer
    kept.w.grad = null;
    loss(kept, [0]).backward();
    expect(kept.w.grad!.data).not.toBe(wBuf);
  });

  it('recycled gradient buffers: a block of attention, RMSNorm, SwiGLU, rope-free products gives the same gradients on every backward, pool warm or released', () => {
    const rnd = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed * 78.233) * 0.7);
    const T = 40, D = 24, H = 4, hd = 6, F = 48;
    const params = {
      x: new Tensor(rnd(2 * T * D, 1), [2, T, D], { requiresGrad: true }),
      wq: new Tensor(rnd(D * D, 2), [D, D], { requiresGrad: true }),
      wk: new Tensor(rnd(D * D, 3), [D, D], { requiresGrad: true }),
      norm: new Tensor(rnd(D, 4).map((v) => 1 + v), [D], { requiresGrad: true }),
      wg: new Tensor(rnd(F * D, 5), [F, D], { requiresGrad: true }),
      wu: new Tensor(rnd(F * D, 6), [F, D], { requiresGrad: true }),
    };
    const run = () => {
      const { x, wq, wk, norm, wg, wu } = params;
      const h = ops.rmsNorm(x, norm, 1e-5);
      const a = ops.attention(ops.linear(h, wq), ops.linear(h, wk), h, { heads: H, kvHeads: H, headDim: hd, causal: true });
      const y = ops.add(x, a);
      const f = ops.swiglu(ops.linear(y, wg), ops.linear(y, wu));
      ops.sum(ops.mul(f, f)).backward();
      const out = Object.fromEntries(Object.entries(params).map(([k, t]) => [k, Float32Array.from(t.grad!.f32())]));
      for (const t of Object.values(params)) t.clearGrad();
      return out;
    };
    releaseGradBuffers();
    const first = run();
    // buffers dropped by that backward are in the pool now, and come back out of it
    const a = gradBuffer(2 * T * D);
    const b = gradBuffer(2 * T * D);
    expect(a).not.toBe(b);
    recycleGradBuffers(a, b);
    for (let i = 0; i < 3; i++) {
      const again = run();
      for (const k of Object.keys(first)) expect(Array.from(again[k]!), k).toEqual(Array.from(first[k]!));
    }
    releaseGradBuffers();
    const cold = run();
    for (const k of Object.keys(first)) expect(Array.from(cold[k]!), k).toEqual(Array.from(first[k]!));
  });
});

