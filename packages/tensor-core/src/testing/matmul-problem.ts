/**
 * Test-only (excluded from the build and the package): random matmul problems for the backends'
 * property tests, each checked against the float64 reference of ../bench/gemm-reference.ts.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { firstMismatch, randomF32, referenceMatmul } from '../bench/gemm-reference.js';
import type { MatmulArgs } from '../registry.js';

export interface MatmulProblem {
  batch: number; m: number; n: number; k: number; transA: boolean; transB: boolean;
  broadcastA: boolean; broadcastB: boolean; accumulate: boolean; seed: number;
}

/** Random problem: sizes include 1 and odd values, both transposes, broadcast strides, accumulate. */
export const matmulProblem = (maxDim: number): fc.Arbitrary<MatmulProblem> =>
  fc.record({
    batch: fc.integer({ min: 1, max: 3 }),
    m: fc.integer({ min: 1, max: maxDim }),
    n: fc.integer({ min: 1, max: maxDim }),
    k: fc.integer({ min: 1, max: maxDim }),
    transA: fc.boolean(),
    transB: fc.boolean(),
    broadcastA: fc.boolean(),
    broadcastB: fc.boolean(),
    accumulate: fc.boolean(),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  });

/** The operands of `p` (seeded) and the initial `out` (what `accumulate` adds to). */
export function buildMatmul(p: MatmulProblem): { args: MatmulArgs; out0: Float32Array } {
  const aStride = p.broadcastA ? 0 : p.m * p.k;
  const bStride = p.broadcastB ? 0 : p.k * p.n;
  /** [batch | 1, M, K] or [batch | 1, K, M] */
  const a = randomF32(Math.max(aStride * p.batch, p.m * p.k), p.seed);
  /** [batch | 1, K, N] or [batch | 1, N, K] */
  const b = randomF32(Math.max(bStride * p.batch, p.k * p.n), p.seed + 1);
  /** [batch, M, N] */
  const out0 = randomF32(p.batch * p.m * p.n, p.seed + 2);
  const args: MatmulArgs = { a, b, out: out0.slice(), batch: p.batch, m: p.m, n: p.n, k: p.k, transA: p.transA, transB: p.transB, aStride, bStride, accumulate: p.accumulate };
  return { args, out0 };
}

/** Run `gemm` on `p` and expect every output within the reference's f32 error bound. */
export function checkMatmul(gemm: (args: MatmulArgs) => void, p: MatmulProblem): void {
  const { args, out0 } = buildMatmul(p);
  gemm(args);
  const bad = firstMismatch(args.out, referenceMatmul({ ...args, out0 }));
  expect(bad, JSON.stringify({ p, bad })).toBeUndefined();
}
