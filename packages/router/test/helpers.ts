/**
 * Shared test helpers: shape arbitraries, seeded buffers and float64 central finite differences.
 */
import fc from 'fast-check';
import { createRng } from '../src/index.js';

export interface Shape {
  T: number;
  E: number;
  k: number;
  seed: number;
}

/** Random T, E, k (including 1 and odd sizes) and a seed for the buffers. */
export function shapeArb(maxT = 17, maxE = 9, minE = 1): fc.Arbitrary<Shape> {
  return fc
    .record({ T: fc.integer({ min: 1, max: maxT }), E: fc.integer({ min: minE, max: maxE }), seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }) })
    .chain(({ T, E, seed }) => fc.record({ T: fc.constant(T), E: fc.constant(E), k: fc.integer({ min: 1, max: E }), seed: fc.constant(seed) }));
}

/** Normal(0, scale²) buffer of n values. */
export function randn(n: number, seed: number, scale = 1, f64 = false): Float32Array | Float64Array {
  const out = f64 ? new Float64Array(n) : new Float32Array(n);
  return createRng(seed).fillNormal(out, 0, scale);
}

export function randn64(n: number, seed: number, scale = 1): Float64Array {
  return randn(n, seed, scale, true) as Float64Array;
}

/** Logits drawn from {0, 1, 2}: many exact ties. */
export function tiedLogits(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(3);
  return out;
}

/** Central finite difference of f at x[i], in float64. */
export function centralDiff(f: (x: Float64Array) => number, x: Float64Array, i: number, h = 1e-6): number {
  const saved = x[i];
  x[i] = saved + h;
  const fp = f(x);
  x[i] = saved - h;
  const fm = f(x);
  x[i] = saved;
  return (fp - fm) / (2 * h);
}

/** Reference top-k of one row by sorting (descending value, ascending index). */
export function sortTopk(row: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: row.length }, (_, i) => i)
    .sort((a, b) => (row[b] !== row[a] ? row[b] - row[a] : a - b))
    .slice(0, k);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
