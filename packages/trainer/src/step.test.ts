import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createRng } from '@llama-moe/tensor-core';
import { forwardBackward, zeroGrad } from './step.js';
import { tinyModel } from '../test/support/fixtures.js';

describe('gradient accumulation', () => {
  it('property: k micro-batches of b rows give the gradient and loss of one batch of k·b rows', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 2, max: 9 }), fc.integer({ min: 0, max: 1000 }), (k, b, T, seed) => {
      const model = tinyModel(seed % 7);
      model.setTrainable(true);
      const params = model.namedParameters();
      const rng = createRng(seed);
      /** [k·b, T] */
      const ids = Int32Array.from({ length: k * b * T }, () => rng.int(259));
      zeroGrad(params.map(([, t]) => t));
      const big = forwardBackward(model, [{ inputIds: ids, batchSize: k * b, seqLen: T }]);
      const g1 = params.map(([, t]) => Float32Array.from(t.grad!.data));
      zeroGrad(params.map(([, t]) => t));
      const micro = Array.from({ length: k }, (_, j) => ({ inputIds: ids.slice(j * b * T, (j + 1) * b * T), batchSize: b, seqLen: T }));
      const acc = forwardBackward(model, micro);
      expect(acc.loss).toBeCloseTo(big.loss, 5);
      params.forEach(([n, t], i) => {
        const a = t.grad!.data, r = g1[i]!;
        let worst = 0, scale = 0;
        for (let j = 0; j < a.length; j++) { worst = Math.max(worst, Math.abs(a[j]! - r[j]!)); scale = Math.max(scale, Math.abs(r[j]!)); }
        expect(worst, n).toBeLessThanOrEqual(1e-5 * Math.max(1, scale) + 1e-7);
      });
    }), { numRuns: 8 });
  });
});
