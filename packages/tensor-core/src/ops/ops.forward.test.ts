/**
 * Forward values against float64 references written independently of the ops (naive loops
 * transcribed from the transformers code paths), plus typed errors on bad input.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DTypeError, IndexError, ShapeError } from '../errors.js';
import { createRng } from '../random.js';
import { Tensor, indices, tensor } from '../tensor.js';
import * as ops from './index.js';

function rand(shape: number[], s: number): Tensor {
  const r = createRng(s);
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(Float32Array.from({ length: n }, () => r.normal()), shape);
}
const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol: number) => {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  expect(worst).toBeLessThanOrEqual(tol);
};

describe('forward against float64 references', () => {
  it('attention with GQA and causal offset equals naive per-head softmax(QKᵀ/√d)V', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 4 }), fc.constantFrom([4, 2], [2, 2], [3, 1]), fc.integer({ min: 1, max: 5 }), fc.integer(), (Tq, extra, [Hq, Hkv], d, s) => {
      const Tk = Tq + extra;
      const q = rand([Tq, Hq! * d], s), k = rand([Tk, Hkv! * d], s + 1), v = rand([Tk, Hkv! * d], s + 2);
      const got = ops.attention(q, k, v, { heads: Hq!, kvHeads: Hkv!, headDim: d }).f32();
      const ref = new Float64Array(Tq * Hq! * d);
      const Q = q.f32(), K = k.f32(), V = v.f32();
      for (let h = 0; h < Hq!; h++) {
        const kh = Math.floor(h / (Hq! / Hkv!));
        for (let i = 0; i < Tq; i++) {
          const sc: number[] = [];
          for (let j = 0; j <= extra + i; j++) {
            let dot = 0;
            for (let c = 0; c < d; c++) dot += Q[i * Hq! * d + h * d + c]! * K[j * Hkv! * d + kh * d + c]!;
            sc.push(dot / Math.sqrt(d));
          }
          const mx = Math.max(...sc);
          const e = sc.map((x) => Math.exp(x - mx));
          const z = e.reduce((a, b) => a + b, 0);
          for (let c = 0; c < d; c++) {
            let acc = 0;
            e.forEach((w, j) => { acc += (w / z) * V[j * Hkv! * d + kh * d + c]!; });
            ref[i * Hq! * d + h * d + c] = acc;
          }
        }
      }
      close(got, ref, 1e-5);
    }), { numRuns: 40 });
  });

  it('attentionOverCache over head-major panels (spare capacity between heads) equals attention over the same keys', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 3 }), fc.constantFrom([4, 2], [2, 2], [3, 1]), fc.integer({ min: 1, max: 9 }), fc.integer(), (Tq, extra, spare, [Hq, Hkv], d, s) => {
      const Tk = Tq + extra, cap = Tk + spare;
      const q = rand([Tq, Hq! * d], s), k = rand([Tk, Hkv! * d], s + 1), v = rand([Tk, Hkv! * d], s + 2);
      const want = ops.attention(q, k, v, { heads: Hq!, kvHeads: Hkv!, headDim: d }).f32();
      // [Hkv, cap, d] panels, the spare positions filled with values that must not be read
      const K = new Float32Array(Hkv! * cap * d).fill(1e30), V = new Float32Array(Hkv! * cap * d).fill(NaN);
      for (let t = 0; t < Tk; t++) for (let h = 0; h < Hkv!; h++) for (let c = 0; c < d; c++) {
        K[(h * cap + t) * d + c] = k.f32()[(t * Hkv! + h) * d + c]!;
        V[(h * cap + t) * d + c] = v.f32()[(t * Hkv! + h) * d + c]!;
      }
      const got = ops.attentionOverCache(q, K, V, { heads: Hq!, kvHeads: Hkv!, headDim: d, length: Tk, capacity: cap }).f32();
      close(got, want, 1e-5);
    }), { numRuns: 60 });
    expect(() => ops.attentionOverCache(rand([3, 4], 1), new Float32Array(8), new Float32Array(8), { heads: 1, kvHeads: 1, headDim: 4, length: 2, capacity: 2 })).toThrow(/cannot hold 2 keys for 3 queries/);
  });

  it('rope equals q·cos + rotate_half(q)·sin with transformers inv_freq', () => {
    const hd = 8, H = 2, T = 5, theta = 500000;
    const x = rand([T, H * hd], 3);
    const pos = indices([0, 1, 7, 100, 2047]);
    const got = ops.rope(x, pos, new ops.RopeTables({ headDim: hd, theta }, 4096), H).f32();
    const X = x.f32();
    for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) for (let i = 0; i < hd; i++) {
      const half = hd / 2;
      const f = 1 / Math.pow(theta, (2 * (i % half)) / hd);
      const ang = pos.data[t]! * f;
      const xi = X[t * H * hd + h * hd + i]!;
      const rot = i < half ? -X[t * H * hd + h * hd + i + half]! : X[t * H * hd + h * hd + i - half]!;
      expect(got[t * H * hd + h * hd + i]!).toBeCloseTo(xi * Math.cos(ang) + rot * Math.sin(ang), 4);
    }
  });

  it('llama3 rope scaling matches the transformers formula on known frequencies', () => {
    const inv = ops.ropeInvFreq({ headDim: 128, theta: 500000, scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } });
    const base = ops.ropeInvFreq({ headDim: 128, theta: 500000 });
    // High-frequency dims untouched, low-frequency dims divided by 8, medium ones smoothed in between.
    expect(inv[0]).toBe(base[0]);
    expect(inv[63]!).toBeCloseTo(base[63]! / 8, 12);
    const mid = inv.findIndex((v, i) => v !== base[i] && Math.abs(v - base[i]! / 8) > 1e-12 * base[i]!);
    expect(mid).toBeGreaterThan(0);
    expect(inv[mid]!).toBeLessThan(base[mid]!);
    expect(inv[mid]!).toBeGreaterThan(base[mid]! / 8);
  });

  it('rmsNorm, softmax, crossEntropy, topk, matmul against naive loops', () => {
    const x = rand([3, 6], 9), w = rand([6], 10);
    const y = ops.rmsNorm(x, w, 1e-6).f32();
    for (let r = 0; r < 3; r++) {
      let ss = 0;
      for (let c = 0; c < 6; c++) ss += x.f32()[r * 6 + c]! ** 2;
      for (let c = 0; c < 6; c++) expect(y[r * 6 + c]!).toBeCloseTo((x.f32()[r * 6 + c]! / Math.sqrt(ss / 6 + 1e-6)) * w.f32()[c]!, 5);
    }
    const sm = ops.softmax(tensor([1, 2, 3, 1000, 1000, -Infinity], [2, 3])).f32();
    close(sm, [0.09003057, 0.24472847, 0.66524096, 0.5, 0.5, 0], 1e-7);
    const ce = ops.crossEntropy(tensor([0, 0, 0, 1, 2, 3], [2, 3]), indices([1, 2])).item();
    expect(ce).toBeCloseTo((Math.log(3) + (Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3)) - 3)) / 2, 6);
    const tk = ops.topk(tensor([1, 5, 5, 2, 9, 0, 3], [7]), 3);
    expect(Array.from(tk.indices.data)).toEqual([4, 1, 2]);
    const a = rand([4, 3], 1), b = rand([3, 5], 2);
    const mm = ops.matmul(a, b).f32();
    for (let i = 0; i < 4; i++) for (let j = 0; j < 5; j++) {
      let s = 0;
      for (let p = 0; p < 3; p++) s += a.f32()[i * 3 + p]! * b.f32()[p * 5 + j]!;
      expect(mm[i * 5 + j]!).toBeCloseTo(s, 5);
    }
  });

  it('topk picks exactly k distinct indices with the largest values (property)', () => {
    fc.assert(fc.property(fc.array(fc.float({ noNaN: true, min: -100, max: 100 }), { minLength: 1, maxLength: 40 }), fc.nat(), (vals, kk) => {
      const k = 1 + (kk % vals.length);
      const { values, indices: idx } = ops.topk(tensor(vals), k);
      const ids = Array.from(idx.data);
      expect(new Set(ids).size).toBe(k);
      const sorted = [...vals].map((v) => Math.fround(v)).sort((a, b) => b - a);
      expect(Array.from(values.data)).toEqual(sorted.slice(0, k));
    }), { numRuns: 200 });
  });
});

describe('typed errors name the op and the shapes', () => {
  it('shape mismatch', () => {
    expect(() => ops.matmul(rand([2, 3], 1), rand([4, 5], 2))).toThrow(ShapeError);
    expect(() => ops.matmul(rand([2, 3], 1), rand([4, 5], 2))).toThrow(/matmul: inner dimensions differ: \[2, 3\] · \[4, 5\]/);
    expect(() => ops.add(rand([2, 3], 1), rand([4], 2))).toThrow(/add: shapes \[2, 3\] and \[4\] cannot be broadcast/);
    expect(() => ops.rmsNorm(rand([2, 3], 1), rand([4], 2), 1e-6)).toThrow(/rmsNorm: weight \[4\]/);
    expect(() => ops.attention(rand([2, 6], 1), rand([2, 4], 1), rand([2, 4], 1), { heads: 3, kvHeads: 2, headDim: 2 })).toThrow(/attention: heads \(3\) must be a positive multiple of kvHeads \(2\)/);
  });
  it('wrong dtype', () => {
    expect(() => ops.matmul(indices([1, 2], [1, 2]), rand([2, 2], 1))).toThrow(DTypeError);
    expect(() => ops.embedding(rand([4, 2], 1), rand([3], 2))).toThrow(/embedding: expected an int32 index tensor/);
  });
  it('out-of-range index', () => {
    expect(() => ops.embedding(rand([4, 2], 1), indices([1, 4]))).toThrow(IndexError);
    expect(() => ops.embedding(rand([4, 2], 1), indices([1, 4]))).toThrow(/token id 4 at position 1 is out of range \[0, 4\)/);
    expect(() => ops.indexSelect(rand([4, 2], 1), indices([-1]))).toThrow(IndexError);
    expect(() => ops.crossEntropy(rand([2, 3], 1), indices([0, 3]))).toThrow(/target 3 at row 1/);
    expect(() => ops.topk(rand([2, 3], 1), 4)).toThrow(/topk: k = 4 must be an integer in \[1, 3\]/);
  });
});
