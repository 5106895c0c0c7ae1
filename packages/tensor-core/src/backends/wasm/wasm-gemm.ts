/**
 * WasmGemm: the blocked fp32 GEMM driver behind the `wasm` backend. Per (M block, N block):
 *   1. the caller copies the operand blocks into wasm memory (TypedArray#set = memcpy), padded
 *      with zero rows/columns to whole 4-row panels / 8-column strips;
 *   2. all threads pack them in parallel (wasm SIMD transposes/copies) into the kernel layouts;
 *   3. all threads run the micro-kernel over their share of C tiles;
 *   4. the caller copies C back (or, for `accumulate`, C was seeded from `out` before step 3).
 * Blocks are sized so operands + packed copies + C stay within `memoryBudgetBytes`.
 */
import { TensorError } from '../../errors.js';
import type { MatmulArgs } from '../../registry.js';
import { emitGemmModule, GEMM_EXPORTS, MR, NR, relaxedSimdSupported, simdSupported, type GemmExport } from './gemm-module.js';
import { canBlock, ThreadPool, type PoolCall } from './pool.js';

export interface WasmGemmOptions {
  /** Threads including the caller; default: available cores. 1 disables the worker pool. */
  threads?: number;
  /** Upper bound for wasm memory used per call; larger problems are blocked over M and N. Default 256 MiB. */
  memoryBudgetBytes?: number;
  /** Hard cap on wasm memory (shared memories must declare one). Default 1 GiB. */
  maxMemoryBytes?: number;
  /** Problems below this many flops (2·M·N·K) run on the calling thread alone. Default 4e6. */
  minParallelFlops?: number;
  /** K block: a packed B strip (kc×8 floats) + A panel (kc×4) stay in L1. Default 512 (measured best of 128/256/512). */
  kc?: number;
  /** A panels per M block (kept in L2). Default 32 (128 rows). */
  mcPanels?: number;
  /** Use relaxed-SIMD FMA where the engine validates it. Default true. */
  relaxedSimd?: boolean;
  /** Accumulate per-phase wall time in `phaseMs` (for benchmarks). Default false. */
  profile?: boolean;
}

export interface WasmGemmInfo {
  threads: number;
  sharedMemory: boolean;
  relaxedSimd: boolean;
  /** Why the pool has fewer threads than asked, if it does. */
  note?: string;
}

const PAGE = 65536;
const FN = Object.fromEntries(GEMM_EXPORTS.map((n, i) => [n, i])) as Record<GemmExport, number>;
const ceilDiv = (a: number, b: number) => Math.ceil(a / b);
const roundUp = (a: number, b: number) => ceilDiv(a, b) * b;
/** Region alignment in floats (64 bytes: one cache line). */
const ALIGN = 16;

export function defaultThreads(): number {
  const g = globalThis as { navigator?: { hardwareConcurrency?: number }; process?: { getBuiltinModule?: (id: string) => unknown } };
  const os = g.process?.getBuiltinModule?.('node:os') as { availableParallelism?: () => number; cpus(): unknown[] } | undefined;
  if (os) return os.availableParallelism?.() ?? os.cpus().length;
  return g.navigator?.hardwareConcurrency ?? 1;
}

/** Split [0, n) into `parts` contiguous chunks (some may be empty). */
function split(n: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  const step = ceilDiv(n, parts);
  for (let t = 0; t < parts; t++) out.push([Math.min(n, t * step), Math.min(n, (t + 1) * step)]);
  return out;
}

export class WasmGemm {
  readonly info: WasmGemmInfo;
  private readonly memory: WebAssembly.Memory;
  private readonly local: ((...a: number[]) => void)[];
  private readonly pool: ThreadPool;
  private readonly budget: number;
  private readonly maxBytes: number;
  private readonly minParallelFlops: number;
  private f32: Float32Array;
  private readonly profile: boolean;
  /** Wall time per phase since construction when `profile` is set: copy-in, pack, compute, copy-out. */
  readonly phaseMs = { copyIn: 0, pack: 0, compute: 0, copyOut: 0 };

  private constructor(memory: WebAssembly.Memory, instance: WebAssembly.Instance, pool: ThreadPool, info: WasmGemmInfo, opts: WasmGemmOptions, maxBytes: number) {
    this.memory = memory;
    this.local = GEMM_EXPORTS.map((n) => instance.exports[n] as (...a: number[]) => void);
    this.pool = pool;
    this.info = info;
    this.budget = opts.memoryBudgetBytes ?? 256 * 2 ** 20;
    this.maxBytes = maxBytes;
    this.minParallelFlops = opts.minParallelFlops ?? 4e6;
    this.f32 = new Float32Array(memory.buffer);
    this.profile = opts.profile ?? false;
  }

  private tick(phase: keyof WasmGemm['phaseMs'], since: number): number {
    const now = performance.now();
    this.phaseMs[phase] += now - since;
    return now;
  }

  static async create(opts: WasmGemmOptions = {}): Promise<WasmGemm> {
    if (!simdSupported()) throw new TensorError('backend', 'initWasmBackend', 'this WebAssembly engine lacks fixed-width SIMD (v128); use the cpu backend');
    let threads = Math.max(1, Math.floor(opts.threads ?? defaultThreads()));
    let note: string | undefined;
    const sharedOk = typeof SharedArrayBuffer !== 'undefined' && canBlock();
    if (threads > 1 && !sharedOk) {
      note = 'SharedArrayBuffer or Atomics.wait unavailable on this thread (browser main thread, or not cross-origin isolated): running single-threaded';
      threads = 1;
    }
    const shared = threads > 1;
    const maxBytes = Math.min(opts.maxMemoryBytes ?? 2 ** 30, 2 ** 31);
    const maximumPages = Math.floor(maxBytes / PAGE);
    const fma = (opts.relaxedSimd ?? true) && relaxedSimdSupported();
    const bytes = emitGemmModule({
      unroll: 1, kc: opts.kc ?? 512, mcPanels: opts.mcPanels ?? 32, fma,
      memory: { initialPages: 1, maximumPages, shared },
    });
    const module = await WebAssembly.compile(bytes);
    const memory = new WebAssembly.Memory({ initial: 16, maximum: maximumPages, shared } as WebAssembly.MemoryDescriptor);
    const instance = await WebAssembly.instantiate(module, { env: { memory } });
    const pool = await ThreadPool.start({ module, memory, exportNames: GEMM_EXPORTS, threads });
    if (pool.threads < threads) note = `only ${pool.threads} of ${threads} threads started`;
    return new WasmGemm(memory, instance, pool, { threads: pool.threads, sharedMemory: shared, relaxedSimd: fma, ...(note ? { note } : {}) }, opts, maxBytes);
  }

  dispose(): void {
    this.pool.dispose();
  }

  /** Grow memory to at least `floats` floats and refresh the view. */
  private ensure(floats: number): void {
    const need = floats * 4;
    if (need > this.maxBytes) {
      throw new TensorError('backend', 'matmul', `wasm backend needs ${need} bytes of wasm memory but maxMemoryBytes is ${this.maxBytes}; raise memoryBudgetBytes/maxMemoryBytes in initWasmBackend`);
    }
    const have = this.memory.buffer.byteLength;
    if (need > have) this.memory.grow(Math.ceil((need - have) / PAGE));
    if (this.f32.length * 4 !== this.memory.buffer.byteLength) this.f32 = new Float32Array(this.memory.buffer);
  }

  gemm(args: MatmulArgs): void {
    const { batch, m, n, k, transA, transB, aStride, bStride, accumulate, a, b, out } = args;
    if (m === 0 || n === 0 || batch === 0) return;
    if (k === 0) {
      if (!accumulate) out.fill(0, 0, batch * m * n);
      return;
    }
    // a shared weight under a plain (non-transposed) batched A is one tall matrix: [batch·M, K]
    if (batch > 1 && bStride === 0 && !transA && aStride === m * k) {
      this.gemm2d(a, 0, b, 0, out, 0, batch * m, n, k, false, transB, accumulate);
      return;
    }
    for (let i = 0; i < batch; i++) this.gemm2d(a, i * aStride, b, i * bStride, out, i * m * n, m, n, k, transA, transB, accumulate);
  }

  /** Rows in an M block and columns in an N block so one block's regions fit the budget. */
  private blocking(m: number, n: number, k: number): { mb: number; nb: number } {
    let mb = roundUp(m, MR);
    let nb = roundUp(n, NR);
    // raw + packed copy of each operand, plus C
    const bytes = (x: number, y: number) => 4 * (2 * x * k + 2 * k * y + x * y);
    while (bytes(mb, nb) > this.budget && (mb > MR || nb > NR)) {
      if ((mb * (2 * k + nb) >= nb * (2 * k + mb) && mb > MR) || nb === NR) mb = roundUp(ceilDiv(mb, 2), MR);
      else nb = roundUp(ceilDiv(nb, 2), NR);
    }
    return { mb, nb };
  }

  private gemm2d(
    a: Float32Array, aOff: number, b: Float32Array, bOff: number, out: Float32Array, oOff: number,
    m: number, n: number, k: number, transA: boolean, transB: boolean, accumulate: boolean,
  ): void {
    const { mb: MB, nb: NB } = this.blocking(m, n, k);
    const threads = 2 * m * n * k < this.minParallelFlops ? 1 : this.pool.threads;
    // region layout in floats, for the largest block
    const rawA = ALIGN * 4;
    const rawB = roundUp(rawA + MB * k + ALIGN, ALIGN);
    const packA = roundUp(rawB + NB * k + ALIGN, ALIGN);
    const packB = roundUp(packA + MB * k, ALIGN);
    const cAt = roundUp(packB + NB * k, ALIGN);
    this.ensure(cAt + MB * NB + ALIGN);
    const prof = this.profile;
    let t = prof ? performance.now() : 0;
    for (let m0 = 0; m0 < m; m0 += MB) {
      const mb = Math.min(MB, m - m0);
      const mPad = roundUp(mb, MR);
      const panels = mPad / MR;
      this.copyA(a, aOff, transA, m, k, m0, mb, mPad, rawA);
      for (let n0 = 0; n0 < n; n0 += NB) {
        const nb = Math.min(NB, n - n0);
        const nPad = roundUp(nb, NR);
        const strips = nPad / NR;
        this.copyB(b, bOff, transB, n, k, n0, nb, nPad, rawB);
        if (prof) t = this.tick('copyIn', t);
        // pack phase: A only once per M block
        const aParts = split(panels, threads);
        const bParts = split(strips, threads);
        const packJobs: PoolCall[][] = [];
        for (let t = 0; t < threads; t++) {
          const calls: PoolCall[] = [];
          const [p0, p1] = aParts[t]!;
          if (n0 === 0 && p1 > p0) {
            calls.push(transA
              ? { fn: FN.pack_c1, args: [rawA * 4, mPad * 4, packA * 4, k, p0, p1] }
              : { fn: FN.pack_t1, args: [rawA * 4, k * 4, packA * 4, k, p0, p1] });
          }
          const [s0, s1] = bParts[t]!;
          if (s1 > s0) {
            calls.push(transB
              ? { fn: FN.pack_t2, args: [rawB * 4, k * 4, packB * 4, k, s0, s1] }
              : { fn: FN.pack_c2, args: [rawB * 4, nPad * 4, packB * 4, k, s0, s1] });
          }
          packJobs.push(calls);
        }
        this.pool.run(packJobs, this.local);
        if (prof) t = this.tick('pack', t);
        if (accumulate) this.copyCIn(out, oOff, n, m0, mb, n0, nb, nPad, cAt);
        if (prof) t = this.tick('copyIn', t);
        // compute phase: split the larger tile dimension across threads
        const byStrips = strips >= 2 * threads || strips >= panels;
        const parts = split(byStrips ? strips : panels, threads);
        const jobs: PoolCall[][] = parts.map(([u0, u1]) => (u1 > u0
          ? [{ fn: FN.gemm_range, args: [packA * 4, packB * 4, cAt * 4, k, nPad * 4, byStrips ? 0 : u0, byStrips ? panels : u1, byStrips ? u0 : 0, byStrips ? u1 : strips, accumulate ? 1 : 0] }]
          : []));
        this.pool.run(jobs, this.local);
        if (prof) t = this.tick('compute', t);
        this.copyCOut(out, oOff, n, m0, mb, n0, nb, nPad, cAt);
        if (prof) t = this.tick('copyOut', t);
      }
    }
  }

  /** Rows [m0, m0+mb) of op(A) → raw block: [mPad, K] (plain) or [K, mPad] (transA), zero-padded. */
  private copyA(a: Float32Array, aOff: number, transA: boolean, m: number, k: number, m0: number, mb: number, mPad: number, at: number): void {
    const f = this.f32;
    if (!transA) {
      f.set(a.subarray(aOff + m0 * k, aOff + (m0 + mb) * k), at);
      if (mPad > mb) f.fill(0, at + mb * k, at + mPad * k);
    } else if (mb === m && mPad === m) {
      f.set(a.subarray(aOff, aOff + k * m), at);
    } else {
      for (let q = 0; q < k; q++) {
        const src = aOff + q * m + m0;
        const dst = at + q * mPad;
        f.set(a.subarray(src, src + mb), dst);
        for (let i = mb; i < mPad; i++) f[dst + i] = 0;
      }
    }
  }

  /** Columns [n0, n0+nb) of op(B) → raw block: [nPad, K] (transB) or [K, nPad] (plain), zero-padded. */
  private copyB(b: Float32Array, bOff: number, transB: boolean, n: number, k: number, n0: number, nb: number, nPad: number, at: number): void {
    const f = this.f32;
    if (transB) {
      f.set(b.subarray(bOff + n0 * k, bOff + (n0 + nb) * k), at);
      if (nPad > nb) f.fill(0, at + nb * k, at + nPad * k);
    } else if (nb === n && nPad === n) {
      f.set(b.subarray(bOff, bOff + k * n), at);
    } else {
      for (let q = 0; q < k; q++) {
        const src = bOff + q * n + n0;
        const dst = at + q * nPad;
        f.set(b.subarray(src, src + nb), dst);
        for (let j = nb; j < nPad; j++) f[dst + j] = 0;
      }
    }
  }

  private copyCIn(out: Float32Array, oOff: number, n: number, m0: number, mb: number, n0: number, nb: number, nPad: number, at: number): void {
    const f = this.f32;
    if (nb === n && nPad === n) {
      f.set(out.subarray(oOff + m0 * n, oOff + (m0 + mb) * n), at);
      return;
    }
    for (let i = 0; i < mb; i++) {
      const src = oOff + (m0 + i) * n + n0;
      f.set(out.subarray(src, src + nb), at + i * nPad);
    }
  }

  private copyCOut(out: Float32Array, oOff: number, n: number, m0: number, mb: number, n0: number, nb: number, nPad: number, at: number): void {
    const f = this.f32;
    if (nb === n && nPad === n) {
      out.set(f.subarray(at, at + mb * n), oOff + m0 * n);
      return;
    }
    for (let i = 0; i < mb; i++) {
      const dst = oOff + (m0 + i) * n + n0;
      out.set(f.subarray(at + i * nPad, at + i * nPad + nb), dst);
    }
  }
}
