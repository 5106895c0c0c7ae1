import { describe, expect, it } from 'vitest';
import { noGrad } from './autograd.js';
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
});
