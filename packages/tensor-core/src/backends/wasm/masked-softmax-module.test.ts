import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maskedSoftmaxBackwardCpu, maskedSoftmaxCpu } from '../cpu/masked-softmax.js';
import { softmaxCpu } from '../cpu/softmax.js';
import { lastBackend, runKernel, setBackend, type MaskedSoftmaxArgs, type MaskedSoftmaxBackwardArgs } from '../../registry.js';
import { disposeWasmBackend, initWasmBackend } from './index.js';
import { WasmMaskedSoftmax } from './masked-softmax-module.js';

function lcg(seed: number, n: number, spread: number): Float32Array {
  const x = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    x[i] = ((s / 2 ** 32) * 2 - 1) * spread;
  }
  return x;
}

/** valid counts: causal (offset + r % period + 1), all, or arbitrary (out of range included) */
const validArb = (rows: number, cols: number) => fc.oneof(
  fc.constant(null),
  fc.record({ period: fc.integer({ min: 1, max: 8 }), offset: fc.integer({ min: -3, max: 8 }) }).map(({ period, offset }) => Int32Array.from({ length: rows }, (_, r) => offset + (r % period) + 1)),
  fc.array(fc.integer({ min: -2, max: cols + 2 }), { minLength: rows, maxLength: rows }).map((a) => Int32Array.from(a)),
);

const shape = fc.record({ rows: fc.integer({ min: 1, max: 40 }), cols: fc.integer({ min: 1, max: 70 }) }).chain(({ rows, cols }) =>
  fc.record({ rows: fc.constant(rows), cols: fc.constant(cols), valid: validArb(rows, cols), seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }), spread: fc.float({ min: Math.fround(0.01), max: 40, noNaN: true }), scale: fc.float({ min: Math.fround(0.05), max: 2, noNaN: true }) }));

const validOf = (v: Int32Array | null, r: number, cols: number) => (v ? Math.max(0, Math.min(cols, v[r]!)) : cols);

describe('wasm maskedSoftmax kernels', () => {
  beforeAll(async () => {
    expect((await initWasmBackend({ threads: 1 })).ok).toBe(true);
  });
  afterAll(() => {
    disposeWasmBackend();
    setBackend(['cpu']);
  });

  it('oracle: equals softmax of the scaled scores with −∞ beyond each row\'s count, 0 there, a 0 row when nothing is valid', () => {
    fc.assert(fc.property(shape, ({ rows, cols, valid, seed, spread, scale }) => {
      const x = lcg(seed, rows * cols, spread);
      const out = new Float32Array(rows * cols).fill(7);
      maskedSoftmaxCpu({ x, out, rows, cols, scale, valid });
      const masked = new Float32Array(rows * cols);
      for (let r = 0; r < rows; r++) {
        const n = validOf(valid, r, cols);
        for (let j = 0; j < cols; j++) masked[r * cols + j] = j < n ? Math.fround(x[r * cols + j]! * Math.fround(scale)) : -Infinity;
      }
      const ref = new Float32Array(rows * cols);
      softmaxCpu({ x: masked, out: ref, rows, cols });
      for (let r = 0; r < rows; r++) {
        const n = validOf(valid, r, cols);
        for (let j = 0; j < cols; j++) {
          const i = r * cols + j;
          if (j >= n) expect(out[i]).toBe(0);
          else expect(Math.abs(out[i]! - ref[i]!)).toBeLessThanOrEqual(2e-7 + 1e-6 * ref[i]!);
        }
      }
    }), { numRuns: 100 });
  });

  it('property: forward agrees with the oracle to f32 accuracy (exact zeros where masked), in place or not, any width', () => {
    const k = WasmMaskedSoftmax.create();
    fc.assert(fc.property(shape, fc.boolean(), ({ rows, cols, valid, seed, spread, scale }, inPlace) => {
      const x = lcg(seed, rows * cols, spread);
      const a: MaskedSoftmaxArgs = { x: x.slice(), out: new Float32Array(rows * cols), rows, cols, scale, valid };
      maskedSoftmaxCpu(a);
      const xb = x.slice();
      const b: MaskedSoftmaxArgs = { x: xb, out: inPlace ? xb : new Float32Array(rows * cols).fill(9), rows, cols, scale, valid };
      k.forward(b);
      for (let i = 0; i < rows * cols; i++) {
        const ref = a.out[i]!;
        if (ref === 0) expect(b.out[i]).toBe(0);
        else expect(Math.abs(b.out[i]! - ref)).toBeLessThanOrEqual(1e-7 + 4e-6 * ref);
      }
      if (!inPlace) expect(b.x).toEqual(x);
    }), { numRuns: 150 });
  });

  it('property: backward agrees with the oracle (f64 arithmetic, only the dot product\'s summation order differs)', () => {
    const k = WasmMaskedSoftmax.create();
    fc.assert(fc.property(shape, fc.boolean(), ({ rows, cols, valid, seed, spread, scale }, inPlace) => {
      const p = new Float32Array(rows * cols);
      maskedSoftmaxCpu({ x: lcg(seed, rows * cols, spread), out: p, rows, cols, scale, valid });
      const g = lcg(seed ^ 0x5bd1e995, rows * cols, 3);
      const a: MaskedSoftmaxBackwardArgs = { p, g: g.slice(), out: new Float32Array(rows * cols), rows, cols, scale, valid };
      maskedSoftmaxBackwardCpu(a);
      const gb = g.slice();
      const b: MaskedSoftmaxBackwardArgs = { p, g: gb, out: inPlace ? gb : new Float32Array(rows * cols).fill(9), rows, cols, scale, valid };
      k.backward(b);
      for (let r = 0; r < rows; r++) {
        const n = validOf(valid, r, cols);
        let mag = 0;
        for (let j = 0; j < n; j++) mag += Math.abs(g[r * cols + j]! * p[r * cols + j]!);
        for (let j = 0; j < cols; j++) {
          const i = r * cols + j;
          if (j >= n) expect(b.out[i]).toBe(0);
          else expect(Math.abs(b.out[i]! - a.out[i]!)).toBeLessThanOrEqual(Math.abs(a.out[i]!) * 2 ** -23 + p[i]! * scale * mag * 1e-15);
        }
      }
    }), { numRuns: 150 });
  });

  it('oracle backward is the gradient of the forward: a finite-difference check in f64', () => {
    const rows = 3, cols = 6, scale = 0.7;
    const valid = Int32Array.of(6, 3, 0);
    const x = lcg(11, rows * cols, 2);
    const w = lcg(12, rows * cols, 1);
    const loss = (xs: Float32Array) => {
      const p = new Float32Array(rows * cols);
      maskedSoftmaxCpu({ x: xs, out: p, rows, cols, scale, valid });
      return p.reduce((s, v, i) => s + v * w[i]!, 0);
    };
    const p = new Float32Array(rows * cols);
    maskedSoftmaxCpu({ x, out: p, rows, cols, scale, valid });
    const dx = new Float32Array(rows * cols);
    maskedSoftmaxBackwardCpu({ p, g: w, out: dx, rows, cols, scale: Math.fround(scale), valid });
    for (let i = 0; i < rows * cols; i++) {
      const h = 1e-2;
      const xp = x.slice(), xm = x.slice();
      xp[i] = x[i]! + h;
      xm[i] = x[i]! - h;
      expect(dx[i]).toBeCloseTo((loss(xp) - loss(xm)) / (2 * h), 3);
    }
  });

  it('a wide row and blocks of many rows: long rows grow the memory, block boundaries do not leak between rows', () => {
    const k = WasmMaskedSoftmax.create();
    for (const [rows, cols] of [[3, 50001], [2000, 131], [4096, 128]] as const) {
      const x = lcg(rows + cols, rows * cols, 10);
      const valid = Int32Array.from({ length: rows }, (_, r) => (r * 7919) % (cols + 1));
      const a: MaskedSoftmaxArgs = { x, out: new Float32Array(rows * cols), rows, cols, scale: 0.125, valid };
      const b: MaskedSoftmaxArgs = { ...a, out: new Float32Array(rows * cols) };
      maskedSoftmaxCpu(a);
      k.forward(b);
      let worst = 0;
      for (let i = 0; i < rows * cols; i++) {
        if (a.out[i] === 0) expect(b.out[i]).toBe(0);
        else worst = Math.max(worst, Math.abs(b.out[i]! - a.out[i]!) / a.out[i]!);
      }
      expect(worst).toBeLessThan(4e-6);
      const g = lcg(5, rows * cols, 1);
      const c: MaskedSoftmaxBackwardArgs = { p: a.out, g, out: new Float32Array(rows * cols), rows, cols, scale: 0.125, valid };
      const d: MaskedSoftmaxBackwardArgs = { ...c, out: new Float32Array(rows * cols) };
      maskedSoftmaxBackwardCpu(c);
      k.backward(d);
      let bad = 0;
      for (let i = 0; i < rows * cols; i++) if (Math.abs(d.out[i]! - c.out[i]!) > Math.abs(c.out[i]!) * 2 ** -23 + 1e-12) bad++;
      expect(bad).toBe(0);
    }
  });

  it('a NaN among a row\'s valid scores makes that row NaN (masked columns stay 0); a NaN beyond the count is ignored; the registry runs it on wasm', () => {
    setBackend(['wasm']);
    const x = Float32Array.of(1, NaN, 3, 4, 5, /**/ 1, 2, 3, NaN, NaN);
    const out = new Float32Array(10);
    runKernel('maskedSoftmax', { x, out, rows: 2, cols: 5, scale: 1, valid: Int32Array.of(3, 3) });
    expect(lastBackend('maskedSoftmax')).toBe('wasm');
    expect(Array.from(out.subarray(0, 3)).every(Number.isNaN)).toBe(true);
    expect(Array.from(out.subarray(3, 5))).toEqual([0, 0]);
    const e = [1, 2, 3].map((v) => Math.exp(v - 3));
    const s = e.reduce((a, b) => a + b);
    for (let j = 0; j < 3; j++) expect(out[5 + j]).toBeCloseTo(e[j]! / s, 6);
    expect(Array.from(out.subarray(8))).toEqual([0, 0]);
    const dx = new Float32Array(10);
    runKernel('maskedSoftmaxBackward', { p: out, g: new Float32Array(10).fill(1), out: dx, rows: 2, cols: 5, scale: 1, valid: Int32Array.of(3, 3) });
    expect(lastBackend('maskedSoftmaxBackward')).toBe('wasm');
    // Σ p = 1, so dx = p·(1 − 1) = 0 on the finite row
    for (let j = 5; j < 10; j++) expect(Math.abs(dx[j]!)).toBeLessThan(1e-7);
    // whatever p and g hold beyond the count (here p ≠ 0, g NaN) is not read
    const p = Float32Array.of(0.25, 0.75, 0.5, 0.5, 0.5);
    const g = Float32Array.of(1, 3, NaN, Infinity, NaN);
    const gx = new Float32Array(5);
    runKernel('maskedSoftmaxBackward', { p, g, out: gx, rows: 1, cols: 5, scale: 2, valid: Int32Array.of(2) });
    // dot = 0.25 + 2.25 = 2.5: [0.25·(1 − 2.5)·2, 0.75·(3 − 2.5)·2, 0, 0, 0]
    expect(Array.from(gx)).toEqual([-0.75, 0.75, 0, 0, 0]);
  });
});
