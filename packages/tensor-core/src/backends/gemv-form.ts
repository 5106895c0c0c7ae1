/**
 * A matmul with one output row or one output column is a matrix–vector product: it reads every
 * weight once and does two flops per weight, so it is bound by memory and by per-call dispatch,
 * not by arithmetic (a decode step is a chain of them). `gemvForm` names the two layouts such a
 * product can take, so a backend can run it without the GEMM's packing:
 *
 * - `dot`:  y[r] = Σₖ W[r, k] · x[k]   (W [rows, inner] row-major: each output is a dot product of rows)
 * - `axpy`: y[c] = Σₖ x[k] · W[k, c]   (W [inner, rows] row-major: y accumulates scaled rows of W)
 *
 * For C = op(A)·op(B) with M = 1 the matrix is B (x = A's one row); with N = 1 it is A (x = B's one
 * column). Both operands' single row/column is contiguous whatever the transpose flag says.
 */
import type { MatmulArgs } from '../registry.js';

export interface GemvForm {
  kind: 'dot' | 'axpy';
  /** Which operand is the matrix W (the other is the vector x). */
  matrix: 'a' | 'b';
  /** Outputs per batch entry (N when M = 1, M when N = 1). */
  rows: number;
  /** Length of x (K). */
  inner: number;
}

/** The matrix–vector form of `args`, or null when it has more than one output row and column. */
export function gemvForm(args: Pick<MatmulArgs, 'm' | 'n' | 'k' | 'transA' | 'transB'>): GemvForm | null {
  const { m, n, k, transA, transB } = args;
  if (m === 1) return { kind: transB ? 'dot' : 'axpy', matrix: 'b', rows: n, inner: k };
  if (n === 1) return { kind: transA ? 'axpy' : 'dot', matrix: 'a', rows: m, inner: k };
  return null;
}
