/**
 * matmul with either operand transposed and batching, and `linear` (x · Wᵀ, Hugging Face weight
 * layout [out, in]). Leading dimensions of a are batch dims; b is either 2-D (shared by every
 * batch, no copy) or has the same batch dims.
 */
import { gradBuffer, record } from '../autograd.js';
import { ShapeError, fmtShape } from '../errors.js';
import { runKernel } from '../registry.js';
import { Tensor, assertFloat, shapeSize } from '../tensor.js';

export interface MatmulOptions { transA?: boolean; transB?: boolean }

export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const transA = !!opts.transA;
  const transB = !!opts.transB;
  assertFloat('matmul', a, b);
  if (a.rank < 2 || b.rank < 2) throw new ShapeError('matmul', `operands must have rank ≥ 2, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const m = transA ? ac : ar;
  const k = transA ? ar : ac;
  const kb = transB ? bc : br;
  const n = transB ? br : bc;
  if (k !== kb) {
    throw new ShapeError('matmul', `inner dimensions differ: ${fmtShape(a.shape)}${transA ? 'ᵀ' : ''} · ${fmtShape(b.shape)}${transB ? 'ᵀ' : ''} (${k} vs ${kb})`);
  }
  const batch = shapeSize(aBatch);
  const bShared = bBatch.length === 0;
  if (!bShared && (bBatch.length !== aBatch.length || bBatch.some((d, i) => d !== aBatch[i]))) {
    throw new ShapeError('matmul', `batch dimensions differ: ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  }
  const ad = a.f32();
  const bd = b.f32();
  // from the pool: a training step's releasing backward hands last step's activations back
  const out = gradBuffer(batch * m * n);
  runKernel('matmul', { a: ad, b: bd, out, batch, m, n, k, transA, transB, aStride: m * k, bStride: bShared ? 0 : k * n, accumulate: false });
  const t = new Tensor(out, [...aBatch, m, n]);
  return record(t, 'matmul', [a, b], (g, _into, slot) => {
    // Both gradients are written by the GEMM straight into the buffers autograd hands out (a
    // parameter's own .grad; an input's running sum), accumulating when they already hold one:
    // no temporary per product and no separate add.
    if (a.requiresGrad) {
      // dA = g · op(B)ᵀ (stored as A's layout: transposed when transA)
      const { data: ga, empty } = slot(0);
      if (!transA) runKernel('matmul', { a: g, b: bd, out: ga, batch, m, n: k, k: n, transA: false, transB: !transB, aStride: m * n, bStride: bShared ? 0 : k * n, accumulate: !empty });
      else runKernel('matmul', { a: bd, b: g, out: ga, batch, m: k, n: m, k: n, transA: transB, transB: true, aStride: bShared ? 0 : k * n, bStride: m * n, accumulate: !empty });
    }
    if (b.requiresGrad) {
      // dB = op(A)ᵀ · g, summed over the batch when B is shared.
      const { data: gb, empty } = slot(1);
      for (let i = 0; i < batch; i++) {
        const gi = g.subarray(i * m * n, (i + 1) * m * n);
        const ai = ad.subarray(i * m * k, (i + 1) * m * k);
        const oi = bShared ? gb : gb.subarray(i * k * n, (i + 1) * k * n);
        const acc = !empty || (bShared && i > 0);
        if (!transB) runKernel('matmul', { a: ai, b: gi, out: oi, batch: 1, m: k, n, k: m, transA: !transA, transB: false, aStride: 0, bStride: 0, accumulate: acc });
        else runKernel('matmul', { a: gi, b: ai, out: oi, batch: 1, m: n, n: k, k: m, transA: true, transB: transA, aStride: 0, bStride: 0, accumulate: acc });
      }
    }
    return [null, null];
  });
}

/** y = x · Wᵀ (+ bias): x [..., in], W [out, in] (Hugging Face nn.Linear layout), bias [out]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  if (weight.rank !== 2) throw new ShapeError('linear', `weight must be [out, in], got ${fmtShape(weight.shape)}${weight.name ? ` ('${weight.name}')` : ''}`);
  const inF = weight.shape[1]!;
  if (x.shape[x.rank - 1] !== inF) {
    throw new ShapeError('linear', `input ${fmtShape(x.shape)} does not match weight ${fmtShape(weight.shape)}${weight.name ? ` ('${weight.name}')` : ''}: last dim must be ${inF}`);
  }
  const lead = x.shape.slice(0, -1);
  const x2 = reshape(x, [shapeSize(lead), inF]);
  let y = matmul(x2, weight, { transB: true });
  if (bias) {
    if (bias.rank !== 1 || bias.shape[0] !== weight.shape[0]) throw new ShapeError('linear', `bias ${fmtShape(bias.shape)} does not match weight ${fmtShape(weight.shape)}`);
    y = add(y, bias);
  }
  return reshape(y, [...lead, weight.shape[0]!]);
}

import { reshape } from './shape.js';
import { add } from './binary.js';
