/**
 * Every op's backward against central finite differences, on random shapes including 1 and odd
 * sizes (fast-check). The objective is a random projection of the output, so the whole
 * vector-Jacobian product is exercised, not just a sum.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRng } from '../random.js';
import { gradCheck } from '../gradcheck.js';
import { noGrad } from '../autograd.js';
import { Tensor, indices } from '../tensor.js';
import * as ops from './index.js';

const dim = fc.integer({ min: 1, max: 7 });
const seed = fc.integer({ min: 0, max: 2 ** 31 - 1 });

function rand(shape: number[], s: number, scale = 1): Tensor {
  const r = createRng(s);
  const n = shape.reduce((a, b) => a * b, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = r.normal() * scale;
  return new Tensor(d, shape);
}

function expectGrad(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts = {}) {
  const r = gradCheck(fn, inputs, opts);
  expect(r.ok, r.message).toBe(true);
}

const runs = { numRuns: 25 };

describe('backward vs finite differences', () => {
  it('add / sub / mul / div with broadcasting', () => {
    fc.assert(fc.property(dim, dim, dim, seed, fc.constantFrom('add', 'sub', 'mul', 'div'), fc.constantFrom('full', 'row', 'col', 'scalar'), (a, b, c, s, op, bc) => {
      const x = rand([a, b, c], s);
      const yShape = bc === 'full' ? [a, b, c] : bc === 'row' ? [c] : bc === 'col' ? [a, b, 1] : [1];
      let y = rand(yShape, s + 1);
      if (op === 'div') y = new Tensor(y.f32().map((v) => (v >= 0 ? v + 1.5 : v - 1.5)), y.shape);
      expectGrad((p, q) => (ops as unknown as Record<string, (p: Tensor, q: Tensor) => Tensor>)[op]!(p, q), [x, y]);
    }), runs);
  });

  it('scale, addScalar, pow', () => {
    fc.assert(fc.property(dim, dim, seed, (a, b, s) => {
      const x = rand([a, b], s);
      expectGrad((p) => ops.scale(p, -1.7), [x]);
      expectGrad((p) => ops.addScalar(p, 0.3), [x]);
      const pos = new Tensor(x.f32().map((v) => Math.abs(v) + 0.5), x.shape);
      expectGrad((p) => ops.pow(p, 1.5), [pos]);
    }), runs);
  });

  it('unary ops', () => {
    fc.assert(fc.property(dim, dim, seed, fc.constantFrom('silu', 'tanh', 'softplus', 'sigmoid', 'exp', 'neg', 'gelu'), (a, b, s, op) => {
      const x = rand([a, b], s);
      expectGrad((p) => ops.unary(op as 'silu', p), [x]);
    }), runs);
    const pos = new Tensor(new Float32Array([0.5, 1, 2, 3.5]), [4]);
    expectGrad((p) => ops.sqrt(p), [pos]);
    expectGrad((p) => ops.log(p), [pos]);
    expectGrad((p) => ops.relu(p), [new Tensor(new Float32Array([-1, 0.5, 2, -0.3]), [4])]);
  });

  it('swiglu', () => {
    fc.assert(fc.property(dim, dim, seed, (a, b, s) => {
      expectGrad((g, u) => ops.swiglu(g, u), [rand([a, b], s), rand([a, b], s + 7)]);
    }), runs);
  });

  it('swigluMlp: gradients of x and all three weights', () => {
    fc.assert(fc.property(dim, dim, dim, seed, (m, d, h, s) => {
      expectGrad((x, g, u, w) => ops.swigluMlp(x, g, u, w), [rand([m, d], s), rand([h, d], s + 1), rand([h, d], s + 2), rand([d, h], s + 3)]);
    }), runs);
  });

  it('swigluMlp matches linear → swiglu → linear, values and gradients (accumulating into existing ones too)', () => {
    fc.assert(fc.property(dim, dim, dim, seed, fc.boolean(), (m, d, h, s, twice) => {
      const run = (fused: boolean) => {
        const x = rand([m, d], s), g = rand([h, d], s + 1), u = rand([h, d], s + 2), w = rand([d, h], s + 3);
        for (const t of [x, g, u, w]) t.requiresGrad = true;
        const f = () => (fused ? ops.swigluMlp(x, g, u, w) : ops.linear(ops.swiglu(ops.linear(x, g), ops.linear(x, u)), w));
        const c = rand([m, d], s + 4);
        // twice: the second pass adds into the gradients the first left
        for (let r = 0; r < (twice ? 2 : 1); r++) ops.sum(ops.mul(f(), c)).backward();
        return [f(), x.grad!, g.grad!, u.grad!, w.grad!].map((t) => Array.from(t.f32()));
      };
      const [a, b] = [run(true), run(false)];
      a.forEach((v, i) => v.forEach((z, j) => expect(z).toBeCloseTo(b[i]![j]!, 4)));
    }), runs);
  });

  it('swigluMlp without a graph (inference: two products, no stacked copy) matches the three-op chain', () => {
    fc.assert(fc.property(dim, dim, dim, seed, (m, d, h, s) => {
      const [x, g, u, w] = [rand([m, d], s), rand([h, d], s + 1), rand([h, d], s + 2), rand([d, h], s + 3)];
      for (const t of [g, u, w]) t.requiresGrad = true; // parameters, but no graph under noGrad
      const a = noGrad(() => ops.swigluMlp(x, g, u, w));
      expect(a.requiresGrad).toBe(false);
      const b = noGrad(() => ops.linear(ops.swiglu(ops.linear(x, g), ops.linear(x, u)), w));
      Array.from(a.f32()).forEach((z, i) => expect(z).toBeCloseTo(b.f32()[i]!, 5));
    }), runs);
  });

  it('matmul with transposes and batches (shared and batched B)', () => {
    fc.assert(fc.property(dim, dim, dim, fc.integer({ min: 1, max: 3 }), fc.boolean(), fc.boolean(), fc.boolean(), seed, (m, k, n, batch, tA, tB, shared, s) => {
      const a = rand([batch, tA ? k : m, tA ? m : k], s);
      const b = rand(shared ? [tB ? n : k, tB ? k : n] : [batch, tB ? n : k, tB ? k : n], s + 3);
      expectGrad((p, q) => ops.matmul(p, q, { transA: tA, transB: tB }), [a, b]);
    }), runs);
  });

  it('linear with bias', () => {
    fc.assert(fc.property(dim, dim, dim, seed, (t, i, o, s) => {
      expectGrad((x, w, b) => ops.linear(x, w, b), [rand([2, t, i], s), rand([o, i], s + 1), rand([o], s + 2)]);
    }), runs);
  });

  it('reshape, transpose, concat, slice', () => {
    fc.assert(fc.property(dim, dim, dim, seed, (a, b, c, s) => {
      const x = rand([a, b, c], s);
      expectGrad((p) => ops.mul(ops.reshape(p, [a * b, c]), ops.reshape(p, [a * b, c])), [x]);
      expectGrad((p) => ops.transpose(p), [x]);
      expectGrad((p, q) => ops.concat([p, q], 1), [x, rand([a, 2, c], s + 1)]);
      const st = Math.floor(b / 2);
      expectGrad((p) => ops.slice(p, 1, st, b), [x]);
    }), runs);
  });

  it('sum and mean (all, per axis, keepDim)', () => {
    fc.assert(fc.property(dim, dim, dim, seed, fc.integer({ min: -3, max: 2 }), fc.boolean(), (a, b, c, s, axis, keep) => {
      const x = rand([a, b, c], s);
      expectGrad((p) => ops.sum(p, axis, keep), [x]);
      expectGrad((p) => ops.mean(p, axis, keep), [x]);
      expectGrad((p) => ops.mean(p), [x]);
    }), runs);
  });

  it('rmsNorm (input and weight)', () => {
    fc.assert(fc.property(dim, fc.integer({ min: 1, max: 16 }), seed, (r, c, s) => {
      expectGrad((x, w) => ops.rmsNorm(x, w, 0.1), [rand([r, c], s), rand([c], s + 1)]);
    }), runs);
  });

  it('embedding', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 9 }), dim, fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), seed, (V, D, raw, s) => {
      const ids = indices(raw.map((v) => v % V));
      expectGrad((w) => ops.embedding(w, ids), [rand([V, D], s)]);
    }), runs);
  });

  it('softmax and logSoftmax', () => {
    fc.assert(fc.property(dim, dim, seed, (r, c, s) => {
      expectGrad((x) => ops.softmax(x), [rand([r, c], s, 2)]);
      expectGrad((x) => ops.logSoftmax(x), [rand([r, c], s, 2)]);
    }), runs);
  });

  it('crossEntropy with ignore_index', () => {
    fc.assert(fc.property(dim, fc.integer({ min: 2, max: 9 }), seed, (N, V, s) => {
      const r = createRng(s);
      const t = indices(Array.from({ length: N }, (_, i) => (i === 1 ? -100 : r.int(V))));
      expectGrad((x) => ops.crossEntropy(x, t), [rand([N, V], s, 2)]);
    }), runs);
  });

  it('rope (default, linear, llama3 scaling), partial positions', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), seed, fc.constantFrom('default', 'linear', 'llama3'), (T, H, half, s, kind) => {
      const hd = 2 * half;
      const scaling = kind === 'linear' ? { rope_type: 'linear' as const, factor: 4 } : kind === 'llama3' ? { rope_type: 'llama3' as const, factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 } : null;
      const tables = new ops.RopeTables({ headDim: hd, theta: 10000, scaling }, 64);
      const pos = indices(Array.from({ length: T }, (_, i) => 3 + 2 * i));
      expectGrad((x) => ops.rope(x, pos, tables, H), [rand([2, T, H * hd], s)]);
    }), runs);
  });

  it('attention: MHA, GQA, MQA, causal with offset, non-causal', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 3 }), fc.constantFrom([2, 2], [4, 2], [3, 1], [1, 1]), fc.integer({ min: 1, max: 4 }), fc.boolean(), seed, (Tq, extra, [Hq, Hkv], d, causal, s) => {
      const Tk = Tq + extra;
      const q = rand([2, Tq, Hq! * d], s);
      const k = rand([2, Tk, Hkv! * d], s + 1);
      const v = rand([2, Tk, Hkv! * d], s + 2);
      expectGrad((a, b, c) => ops.attention(a, b, c, { heads: Hq!, kvHeads: Hkv!, headDim: d, causal }), [q, k, v]);
    }), runs);
  });

  it('topk values', () => {
    fc.assert(fc.property(dim, fc.integer({ min: 1, max: 9 }), seed, (r, c, s) => {
      // Well-separated values so a finite-difference step never reorders them.
      const rng = createRng(s);
      const d = new Float32Array(r * c);
      for (let i = 0; i < r; i++) {
        const perm = Array.from({ length: c }, (_, j) => j).sort(() => rng.uniform() - 0.5);
        for (let j = 0; j < c; j++) d[i * c + j] = perm[j]! * 0.5 + rng.uniform() * 0.05;
      }
      const k = 1 + (s % c);
      expectGrad((x) => ops.topk(x, k).values, [new Tensor(d, [r, c])]);
    }), runs);
  });

  it('indexSelect, indexAdd (with and without base), gatherLast', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), dim, fc.array(fc.nat(), { minLength: 1, maxLength: 9 }), seed, (N, D, raw, s) => {
      const idx = indices(raw.map((v) => v % N));
      expectGrad((x) => ops.indexSelect(x, idx), [rand([N, D], s)]);
      expectGrad((src) => ops.indexAdd(N, idx, src), [rand([raw.length, D], s + 1)]);
      expectGrad((b, src) => ops.indexAdd(b, idx, src), [rand([N, D], s + 2), rand([raw.length, D], s + 3)]);
      const g = indices(raw.map((v) => v % D).slice(0, 1).concat(raw.map((v) => (v * 7) % D).slice(0, 1)), [1, 2]);
      expectGrad((x) => ops.gatherLast(x, g), [rand([1, D], s + 4)]);
    }), runs);
  });

  it('narrowRows: views of row blocks (an MoE dispatch: one gather, then a block per expert) and their gradients', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 7 }), dim, fc.array(fc.nat(), { minLength: 1, maxLength: 12 }), fc.nat(), seed, (N, D, raw, cut, s) => {
      const idx = indices(raw.map((v) => v % N));
      const S = raw.length, c = cut % (S + 1);
      expectGrad((x) => {
        const xs = ops.indexSelect(x, idx);
        const a = ops.narrowRows(xs, 0, c), b = ops.narrowRows(xs, c, S);
        // the blocks are views of xs, nothing copied
        expect(a.f32().buffer).toBe(xs.f32().buffer);
        return ops.concat([ops.mul(a, a), ops.scale(b, 3)], 0);
      }, [rand([N, D], s)]);
    }), runs);
    expect(() => ops.narrowRows(rand([3, 2], 1), 2, 4)).toThrow(/rows \[2, 4\) are out of bounds for \[3, 2\]/);
  });
});
