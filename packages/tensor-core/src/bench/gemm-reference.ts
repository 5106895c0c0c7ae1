/**
 * Float64 reference for the `matmul` kernel contract and its error bound, shared by the backend
 * property tests and the benchmark's sanity check.
 *
 * Bound: for any summation order, |fl(Σ_p a_p·b_p) − Σ_p a_p·b_p| ≤ γ_k Σ_p |a_p·b_p| with
 * γ_k = k·u/(1 − k·u), u = 2⁻²⁴ (Higham, Accuracy and Stability of Numerical Algorithms, §3.1),
 * and one more rounding when adding into `out`. We allow (k + 2)·2⁻²³ · (Σ|a·b| + |c₀|): twice
 * the worst case, which covers FMA and blocked/threaded summation orders, yet a wrong index or
 * a dropped term is off by O(Σ|a·b|) and fails.
 */
import type { MatmulArgs } from '../registry.js';

export interface MatmulReference {
  /** [batch, M, N] exact-ish result in float64 */
  value: Float64Array;
  /** [batch, M, N] allowed absolute error per element */
  tol: Float64Array;
}

/** Compute op(A)·op(B) (+ out₀ when accumulate) in float64 with per-element tolerances. */
export function referenceMatmul(args: Omit<MatmulArgs, 'out'> & { out0?: Float32Array }): MatmulReference {
  const { a, b, batch, m, n, k, transA, transB, aStride, bStride, accumulate, out0 } = args;
  const value = new Float64Array(batch * m * n);
  const tol = new Float64Array(batch * m * n);
  const scale = (k + 2) * 2 ** -23;
  for (let t = 0; t < batch; t++) {
    const ao = t * aStride;
    const bo = t * bStride;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        let abs = 0;
        for (let p = 0; p < k; p++) {
          const x = a[ao + (transA ? p * m + i : i * k + p)]!;
          const y = b[bo + (transB ? j * k + p : p * n + j)]!;
          s += x * y;
          abs += Math.abs(x * y);
        }
        const o = t * m * n + i * n + j;
        const c0 = accumulate && out0 ? out0[o]! : 0;
        value[o] = s + c0;
        tol[o] = scale * (abs + Math.abs(c0)) + 1e-30;
      }
    }
  }
  return { value, tol };
}

/** Index and size of the first element outside tolerance, or undefined when all are within. */
export function firstMismatch(got: Float32Array, ref: MatmulReference): { index: number; got: number; want: number; tol: number } | undefined {
  for (let i = 0; i < ref.value.length; i++) {
    const g = got[i]!;
    if (!(Math.abs(g - ref.value[i]!) <= ref.tol[i]!)) return { index: i, got: g, want: ref.value[i]!, tol: ref.tol[i]! };
  }
  return undefined;
}

/** Deterministic uniform floats in [-1, 1) (mulberry32), rounded to f32. */
export function randomF32(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  let s = seed >>> 0;
  for (let i = 0; i < length; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}
