/**
 * Matmul throughput of the gpujs backend in the mode gpu.js actually selected. Shapes are the
 * LLaMA-7B-MoE ones that matter: a square 1024³ GEMM, and a 512-token batch through an expert's
 * gate/up projection (4096 → 688) and down projection (688 → 4096), with weights in Hugging Face
 * `nn.Linear` layout [out, in] (hence transB). `peer` is left null for the caller (numpy).
 */
import { getKernel, type MatmulArgs } from '../../registry.js';
import { GPUJS_BACKEND, gpujsBackendInfo, initGpujsBackend, isGpujsBackendReady, disposeGpujsBackend, matmulAsync } from './backend.js';

export interface BenchRow {
  name: string;
  ours: number;
  peer: number | null;
  unit: string;
  ratio: number | null;
  note?: string;
}

interface Shape {
  name: string;
  m: number;
  k: number;
  n: number;
  transB: boolean;
}

const SHAPES: readonly Shape[] = [
  { name: 'matmul 1024x1024x1024', m: 1024, k: 1024, n: 1024, transB: false },
  { name: 'matmul 512x4096 -> 688 (x·Wᵀ)', m: 512, k: 4096, n: 688, transB: true },
  { name: 'matmul 512x688 -> 4096 (x·Wᵀ)', m: 512, k: 688, n: 4096, transB: true },
];

function argsFor(s: Shape): MatmulArgs {
  // deterministic, well-scaled values; the bench measures speed, the tests measure accuracy
  const a = new Float32Array(s.m * s.k).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  const b = new Float32Array(s.k * s.n).map((_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
  return { a, b, out: new Float32Array(s.m * s.n), batch: 1, m: s.m, n: s.n, k: s.k, transA: false, transB: s.transB, aStride: 0, bStride: 0, accumulate: false };
}

/**
 * GFLOP/s (2·m·n·k per call) of the gpujs matmul kernel: one warm-up call (compiles the kernel)
 * and one timed call per shape, because webasm runs at ~1–2 GFLOP/s and the suite must stay under
 * a minute. Also times the async path (`matmulAsync`) on the first shape. Initialises the backend
 * in auto mode when nobody has, and disposes it again afterwards.
 */
export async function benchGpujs(): Promise<BenchRow[]> {
  const owned = !isGpujsBackendReady();
  if (owned) await initGpujsBackend();
  try {
    const reg = getKernel('matmul', GPUJS_BACKEND);
    if (!reg) throw new Error('benchGpujs: the gpujs matmul kernel is not registered');
    const rows: BenchRow[] = [];
    for (const s of SHAPES) {
      const args = argsFor(s);
      reg.fn(args);
      const t0 = performance.now();
      reg.fn(args);
      const ms = performance.now() - t0;
      const info = gpujsBackendInfo();
      rows.push({
        name: `${s.name} [gpujs ${info.mode}]`,
        ours: (2 * s.m * s.n * s.k) / (ms * 1e6),
        peer: null,
        unit: 'GFLOP/s',
        ratio: null,
        note: `mode=${info.mode}, kernel modes=${info.kernelModes.join('/')}, synchronous single-threaded, 1 warm-up + 1 timed call (${ms.toFixed(0)} ms)`,
      });
    }
    const s = SHAPES[0]!;
    const args = argsFor(s);
    await matmulAsync(args);
    const t0 = performance.now();
    await matmulAsync(args);
    const ms = performance.now() - t0;
    const info = gpujsBackendInfo();
    rows.push({
      name: `${s.name} async [gpujs ${info.asyncMode ?? 'async'}]`,
      ours: (2 * s.m * s.n * s.k) / (ms * 1e6),
      peer: null,
      unit: 'GFLOP/s',
      ratio: null,
      note: `matmulAsync in mode=${info.asyncMode}, gpu.js async contract (webasm: worker pool), 1 warm-up + 1 timed call (${ms.toFixed(0)} ms)`,
    });
    return rows;
  } finally {
    if (owned) await disposeGpujsBackend();
  }
}
