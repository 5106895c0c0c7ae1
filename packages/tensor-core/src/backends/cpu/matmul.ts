/**
 * cpu/matmul: the oracle GEMM. Plain TypeScript, i-k-j loop order so the inner loop streams
 * rows of B and out (cache-friendly for row-major data); transposed operands are read through
 * strides rather than copied. Accumulates in f32 like every other backend.
 */
import type { MatmulArgs } from '../../registry.js';

export function matmulCpu(args: MatmulArgs): void {
  const { a, b, out, batch, m, n, k, transA, transB, aStride, bStride, accumulate } = args;
  const rowB = new Float32Array(transB ? k : 0);
  for (let bi = 0; bi < batch; bi++) {
    const aOff = bi * aStride;
    const bOff = bi * bStride;
    const oOff = bi * m * n;
    if (!accumulate) out.fill(0, oOff, oOff + m * n);
    if (!transB) {
      for (let i = 0; i < m; i++) {
        const o = oOff + i * n;
        for (let p = 0; p < k; p++) {
          const av = transA ? a[aOff + p * m + i]! : a[aOff + i * k + p]!;
          if (av === 0) continue;
          const bo = bOff + p * n;
          for (let j = 0; j < n; j++) out[o + j]! += av * b[bo + j]!;
        }
      }
    } else {
      // out[i, j] = Σ_p A[i, p] · B[j, p]: a dot product per output, B rows are contiguous.
      for (let i = 0; i < m; i++) {
        const o = oOff + i * n;
        if (transA) for (let p = 0; p < k; p++) rowB[p] = a[aOff + p * m + i]!;
        const ar = transA ? rowB : a.subarray(aOff + i * k, aOff + i * k + k);
        for (let j = 0; j < n; j++) {
          const bo = bOff + j * k;
          let s = 0;
          for (let p = 0; p < k; p++) s += ar[p]! * b[bo + p]!;
          out[o + j]! += s;
        }
      }
    }
  }
}
