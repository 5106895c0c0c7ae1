import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Tensor } from '@llama-moe/tensor-core';
import { AdamW } from './adamw.js';
import { clipCoefficient, clipGradNorm, globalGradNorm } from './clip.js';

function withGrad(g: number[]): Tensor {
  const t = new Tensor(new Float32Array(g.length), [g.length], { requiresGrad: true });
  t.grad = new Tensor(Float32Array.from(g), [g.length]);
  return t;
}

describe('gradient clipping', () => {
  it('measures the global norm over all tensors and scales to the max norm', () => {
    const a = withGrad([3, 0]);
    const b = withGrad([0, 4, 0]);
    const none = new Tensor(new Float32Array(2), [2], { requiresGrad: true });
    expect(globalGradNorm([a, b, none])).toBe(5);
    const n = clipGradNorm([a, b, none], 1);
    expect(n).toBe(5);
    expect(globalGradNorm([a, b])).toBeCloseTo(1, 5);
    expect(a.grad!.data[0]).toBeCloseTo(0.6, 6);
    expect(b.grad!.data[1]).toBeCloseTo(0.8, 6);
  });

  it('leaves gradients below the threshold (and with clipping off) untouched; reports non-finite norms without scaling', () => {
    const a = withGrad([0.3, 0.4]);
    expect(clipGradNorm([a], 1)).toBeCloseTo(0.5, 6);
    expect(Array.from(a.grad!.data)).toEqual([Math.fround(0.3), Math.fround(0.4)]);
    const b = withGrad([30, 40]);
    expect(clipGradNorm([b], 0)).toBe(50);
    expect(Array.from(b.grad!.data)).toEqual([30, 40]);
    const c = withGrad([NaN, 1]);
    expect(clipGradNorm([c], 1)).toBeNaN();
    expect(c.grad!.data[1]).toBe(1);
  });

  it('property: after clipping the norm is min(norm, max) and directions are kept', () => {
    fc.assert(fc.property(
      fc.array(fc.array(fc.float({ min: -100, max: 100, noNaN: true }), { minLength: 1, maxLength: 9 }), { minLength: 1, maxLength: 4 }),
      fc.double({ min: 0.01, max: 50, noNaN: true }),
      (gs, max) => {
        const ts = gs.map(withGrad);
        const before = globalGradNorm(ts);
        const first = ts.map((t) => Array.from(t.grad!.data));
        expect(clipGradNorm(ts, max)).toBe(before);
        const after = globalGradNorm(ts);
        expect(after).toBeCloseTo(Math.min(before, max), 3);
        const k = before > max ? max / (before + 1e-6) : 1;
        ts.forEach((t, i) => t.grad!.data.forEach((v, j) => expect(v).toBeCloseTo(first[i]![j]! * k, 3)));
      },
    ), { numRuns: 60 });
  });

  it('property: clipping inside AdamW (gradScale = clipCoefficient) gives bit-identical weights to clipping in place first', () => {
    fc.assert(fc.property(
      fc.array(fc.array(fc.float({ min: -50, max: 50, noNaN: true }), { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 4 }),
      fc.float({ min: Math.fround(0.05), max: 20, noNaN: true }),
      (gs, maxNorm) => {
        const make = () => gs.map((g, i) => {
          const t = withGrad(g);
          (t.data as Float32Array).forEach((_, j, d) => { d[j] = Math.fround(0.1 * (i + 1) - 0.03 * j); });
          return [`layers.${i}.weight`, t] as [string, Tensor];
        });
        const a = make();
        const b = make();
        const cfg = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1 };
        clipGradNorm(a.map(([, t]) => t), maxNorm);
        new AdamW(cfg).step(a, 1e-2);
        const coef = clipCoefficient(globalGradNorm(b.map(([, t]) => t)), maxNorm);
        new AdamW(cfg).step(b, 1e-2, { gradScale: coef });
        a.forEach(([, t], i) => expect(Array.from(b[i]![1].data)).toEqual(Array.from(t.data)));
      },
    ), { numRuns: 100 });
  });
});
