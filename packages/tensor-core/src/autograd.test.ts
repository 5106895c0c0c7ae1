import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gradBuffer, noGrad, pooledBufferBytes, record, recycleGradBuffers, releaseGradBuffers, sizeClass } from './autograd.js';
import { TensorError } from './errors.js';
import { Tensor, indices, tensor } from './tensor.js';
import * as ops from './ops/index.js';

const rnd = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed * 78.233) * 0.7);
/** An attention + SwiGLU block's input and weights: T tokens × 2 rows, D wide, H heads of hd, F-wide FFN. */
const T = 40, D = 24, H = 4, hd = 6, F = 48;
function blockParams() {
  return {
    x: new Tensor(rnd(2 * T * D, 1), [2, T, D], { requiresGrad: true }),
    wq: new Tensor(rnd(D * D, 2), [D, D], { requiresGrad: true }),
    wk: new Tensor(rnd(D * D, 3), [D, D], { requiresGrad: true }),
    norm: new Tensor(rnd(D, 4).map((v) => 1 + v), [D], { requiresGrad: true }),
    wg: new Tensor(rnd(F * D, 5), [F, D], { requiresGrad: true }),
    wu: new Tensor(rnd(F * D, 6), [F, D], { requiresGrad: true }),
    wo: new Tensor(rnd(D * F, 7), [D, F], { requiresGrad: true }),
  };
}

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
    const { x, wq, wk, norm, wg, wu } = blockParams();
    const params = { x, wq, wk, norm, wg, wu };
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

  it('size classes: a request\'s class holds it with at most 12.5 % slack, a buffer serves only requests it can hold, classes are fixed points', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 30 }), (n) => {
      const up = sizeClass(n, true), down = sizeClass(n, false);
      expect(up).toBeGreaterThanOrEqual(n);
      expect(up).toBeLessThanOrEqual(Math.ceil(n * 1.125));
      expect(down).toBeLessThanOrEqual(n);
      expect(sizeClass(up, true)).toBe(up);
      expect(sizeClass(up, false)).toBe(up);
      // a buffer of n floats, filed under `down`, serves requests whose class is `down`: all ≤ n
      expect(sizeClass(down, true)).toBe(down);
    }), { numRuns: 500 });
    // MoE expert lengths that change with the routing share a class
    expect(sizeClass(129 * 128, true)).toBe(sizeClass(133 * 128, true));
  });

  it('releaseActivations: later steps reuse the released activations (a pool of old values, not zeros) and still give the same outputs and gradients; leaves are untouched', () => {
    const params = blockParams();
    const before = Object.fromEntries(Object.entries(params).map(([k, t]) => [k, Float32Array.from(t.f32())]));
    /** a constant input (no grad) that must survive too */
    const bias = new Tensor(rnd(2 * T * D, 8), [2, T, D]);
    const run = (release: boolean) => {
      const { x, wq, wk, norm, wg, wu, wo } = params;
      const h = ops.rmsNorm(ops.add(x, bias), norm, 1e-5);
      const a = ops.attention(ops.rope(ops.linear(h, wq), indices(Int32Array.from({ length: T }, (_, i) => i), [T]), new ops.RopeTables({ headDim: hd, theta: 10000 }, T), H), ops.linear(h, wk), h, { heads: H, kvHeads: H, headDim: hd, causal: true });
      const y = ops.add(x, a);
      const f = ops.linear(ops.swiglu(ops.linear(y, wg), ops.linear(y, wu)), wo);
      const loss = ops.sum(ops.mul(ops.silu(f), f));
      const value = loss.item();
      const out = Float32Array.from(f.f32());
      loss.backward(null, { releaseActivations: release });
      const grads = Object.fromEntries(Object.entries(params).map(([k, t]) => [k, Float32Array.from(t.grad!.f32())]));
      for (const t of Object.values(params)) t.clearGrad();
      return { value, out, grads };
    };
    releaseGradBuffers();
    const ref = run(false);
    for (let i = 0; i < 4; i++) {
      const got = run(true);
      expect(got.value).toBe(ref.value);
      expect(Array.from(got.out)).toEqual(Array.from(ref.out));
      for (const k of Object.keys(ref.grads)) expect(Array.from(got.grads[k]!), k).toEqual(Array.from(ref.grads[k]!));
    }
    expect(pooledBufferBytes()).toBeGreaterThan(0);
    for (const [k, t] of Object.entries(params)) expect(Array.from(t.f32()), k).toEqual(Array.from(before[k]!));
    expect(Array.from(bias.f32())).toEqual(Array.from(rnd(2 * T * D, 8)));
  });

  it('releaseActivations never hands out storage a leaf, a constant input or the root shares (views of a parameter included)', () => {
    releaseGradBuffers();
    const n = 4096;
    const w = new Tensor(Float32Array.from({ length: n }, (_, i) => i % 7), [64, 64], { requiresGrad: true });
    const c = new Tensor(Float32Array.from({ length: n }, (_, i) => i % 5), [n]);
    const wv = ops.reshape(w, [n]); // a node whose data is w's storage
    expect(wv.f32().buffer).toBe(w.f32().buffer);
    // a custom op whose output aliases its constant input
    const alias = record(new Tensor(c.f32(), [n]), 'alias', [w, c], () => [null, null]);
    const loss = ops.sum(ops.mul(ops.add(wv, alias), wv));
    loss.backward(null, { releaseActivations: true });
    // drain the pool: whatever it hands out is written over
    const taken: Float32Array[] = [];
    for (let i = 0; i < 64; i++) taken.push(gradBuffer(n).fill(-1));
    expect(Array.from(w.f32()).every((v, i) => v === i % 7)).toBe(true);
    expect(Array.from(c.f32()).every((v, i) => v === i % 5)).toBe(true);
    expect(Array.from(w.grad!.f32()).every((v, i) => v === 2 * (i % 7) + (i % 5))).toBe(true);
    // the released activation (add's output) was handed out
    expect(taken.length).toBe(64);
    expect(new Set(taken.map((t) => t.buffer)).size).toBe(64);
  });

  it('the pool stays bounded when every step has new shapes: buffers unused since the previous releasing backward are dropped', () => {
    releaseGradBuffers();
    const w = new Tensor(Float32Array.from({ length: 16 * 16 }, (_, i) => Math.sin(i)), [16, 16], { requiresGrad: true });
    const sizes: number[] = [];
    for (let step = 0; step < 12; step++) {
      const rows = 200 + 150 * step; // a new size class every step
      const x = new Tensor(Float32Array.from({ length: rows * 16 }, (_, i) => Math.cos(i)), [rows, 16]);
      ops.sum(ops.silu(ops.linear(ops.silu(ops.linear(x, w)), w))).backward(null, { releaseActivations: true });
      w.clearGrad();
      sizes.push(pooledBufferBytes());
    }
    /** one step's activations: 4 [rows, 16] tensors plus 2 gradients, at most */
    const oneStep = (rows: number) => 6 * rows * 16 * 4 * 1.125;
    for (let s = 2; s < sizes.length; s++) expect(sizes[s]).toBeLessThanOrEqual(oneStep(200 + 150 * s) + oneStep(200 + 150 * (s - 1)));
    // without eviction it would hold every step's buffers
    expect(sizes[11]).toBeLessThan(sizes.slice(0, 11).reduce((a, b) => a + b, 0) / 2);
  });
});
