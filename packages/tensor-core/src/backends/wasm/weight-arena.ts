/**
 * Weights that live in WebAssembly memory, so a decode step's matrix–vector products read them in
 * place, on every core.
 *
 * Why: a one-token step reads each weight once and does two flops per weight read; it is bound by
 * memory and by per-call overhead. The native backend (onnxruntime) pays a dispatch and a thread
 * hand-off of 25–50 µs per call, and the `wasm` backend's matrix–vector kernel (gemv-module.ts)
 * first copies the matrix into its own memory, reading it twice. Weights placed here are read
 * once, by the same `dot` kernel running on a fork-join pool over this memory (pool.ts), with no
 * copy of the matrix and a synchronisation of a few µs.
 *
 * The memory is shared (so the pool's workers see it) and sized once, never grown, so the
 * Float32Array views handed out stay valid: one arena per `WeightArena.create` (per `pinTensors` call), laid out as
 * scratch (x and y of one product) · then each array, 16-byte aligned. Where SharedArrayBuffer or
 * a blocking wait is unavailable (a browser page that is not cross-origin isolated, a browser
 * main thread) it is a plain memory and the kernel runs on the calling thread, still without the
 * copy.
 *
 * The catch: onnxruntime-node refuses views of a SharedArrayBuffer, so the native backend copies
 * such an operand into a private buffer before each call (ort-gemm.ts). A multi-token forward
 * (prefill, training) of weights placed here pays that copy; a decode step does not.
 */
import type { MatmulArgs, SwigluExpertsArgs } from '../../registry.js';
import type { GemvForm } from '../gemv-form.js';
import { emitModule } from './wasm-emitter.js';
import { axpyFunc, dotFunc } from './gemv-module.js';
import { canBlock, ThreadPool, type PoolCall } from './pool.js';
import { PAGE } from './scratch-module.js';
import { defaultThreads } from './wasm-gemm.js';

/** Bytes at the start of an arena for the vector operands of one product (x, then y). */
const SCRATCH_BYTES = 4 << 20;
const SCRATCH_FLOATS = SCRATCH_BYTES / 4;
/** A wasm32 memory's ceiling (65536 pages would overflow V8's limit on some builds). */
const MAX_BYTES = 65535 * PAGE;
/**
 * Matrices smaller than this (floats) are left to the copying kernel (gemv-module.ts): read in
 * place, a small matrix is a few short strided streams the hardware prefetcher barely ramps up on,
 * while the copy reads it as one sequential stream; and splitting it costs more in synchronisation
 * than the second thread saves. Measured on 2 cores (tools/bench/profile.mjs, decode products): a
 * stories15M-shaped MoE's 48×288 experts were slower in place, a stories110M-shaped MoE's 128×768
 * experts 2.5× faster in place on two threads.
 */
export const IN_PLACE_MIN_FLOATS = 96 * 1024;

type Fn = (w: number, x: number, y: number, n: number, bytes: number, acc: number) => void;

/** Each arena's memory buffer → the arena (a buffer is dropped with the last view of it). */
const arenas = new WeakMap<ArrayBufferLike, WeightArena>();
/** Stop an arena's workers once no view of its memory is left. */
const reaper = typeof FinalizationRegistry === 'undefined' ? undefined : new FinalizationRegistry<ThreadPool>((pool) => pool.dispose());

export interface WeightArenaOptions {
  /** Threads including the caller; default: available cores. 1 = no workers. */
  threads?: number;
  /** Polls a worker makes before it sleeps (pool.ts); default DEFAULT_SPIN. */
  spin?: number;
  /** Smallest matrix (floats) read in place; smaller ones go to the copying kernel. Default IN_PLACE_MIN_FLOATS. */
  minFloats?: number;
}

/**
 * A decode step runs TypeScript between its products (norms, RoPE, attention, routing: tens to
 * hundreds of µs), longer than the pool's default spin; a worker that went to sleep costs a futex
 * wake-up per product, which on a VM is as long as a small product. So the arena's workers poll
 * 100 000 times (about 2 ms on the bench machine; llama.cpp's threads spin between ops too) and
 * sleep only once generation pauses; 2 000 000 polls (40 ms) kept a core busy into whatever ran next.
 */
const DEFAULT_SPIN = 100_000;

export class WeightArena {
  private readonly f32: Float32Array;
  private readonly local: readonly Fn[];

  private constructor(private readonly memory: WebAssembly.Memory, private readonly pool: ThreadPool, dot: Fn, axpy: Fn, private readonly minFloats: number) {
    this.f32 = new Float32Array(memory.buffer, 0, SCRATCH_FLOATS);
    this.local = [dot, axpy];
  }

  /** Threads the products run on (1 where no worker could start). */
  get threads(): number {
    return this.pool.threads;
  }

  /**
   * An arena holding a copy of each array (same order), or null where WebAssembly SIMD is missing
   * or the total exceeds a wasm32 memory (4 GiB).
   */
  static async create(arrays: readonly Float32Array[], opts: WeightArenaOptions = {}): Promise<{ arena: WeightArena; views: Float32Array[] } | null> {
    let bytes = SCRATCH_BYTES;
    for (const a of arrays) bytes += 4 * (((a.length + 3) >> 2) << 2);
    if (bytes > MAX_BYTES) return null;
    const pages = Math.ceil(bytes / PAGE);
    let threads = Math.max(1, Math.floor(opts.threads ?? defaultThreads()));
    const shared = threads > 1 && typeof SharedArrayBuffer !== 'undefined' && canBlock();
    if (!shared) threads = 1;
    let memory: WebAssembly.Memory;
    let module: WebAssembly.Module;
    let instance: WebAssembly.Instance;
    try {
      module = await WebAssembly.compile(emitModule({ memory: { initialPages: pages, maximumPages: pages, shared }, funcs: [dotFunc(), axpyFunc()] }));
      memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared } as WebAssembly.MemoryDescriptor);
      instance = await WebAssembly.instantiate(module, { env: { memory } });
    } catch {
      return null;
    }
    const pool = await ThreadPool.start({ module, memory, exportNames: ['dot', 'axpy'], threads, spin: opts.spin ?? DEFAULT_SPIN });
    const e = instance.exports as Record<string, unknown>;
    const arena = new WeightArena(memory, pool, e['dot'] as Fn, e['axpy'] as Fn, opts.minFloats ?? IN_PLACE_MIN_FLOATS);
    let at = SCRATCH_BYTES;
    const views = arrays.map((a) => {
      const v = new Float32Array(memory.buffer, at, a.length);
      v.set(a);
      at += 4 * (((a.length + 3) >> 2) << 2);
      return v;
    });
    arenas.set(memory.buffer, arena);
    reaper?.register(memory.buffer, pool);
    return { arena, views };
  }

  /** Stop the workers now (the views stay readable; products on them fall back to the copying kernels). */
  dispose(): void {
    this.pool.dispose();
    arenas.delete(this.memory.buffer);
  }

  /** Whether `run` takes this product (see there). */
  takes(args: MatmulArgs, f: GemvForm): boolean {
    const { rows, inner } = f;
    const [mat, mStride] = f.matrix === 'a' ? [args.a, args.aStride] : [args.b, args.bStride];
    const wn = rows * inner;
    if (wn < this.minFloats || (f.kind === 'dot' ? inner : rows) % 4 !== 0) return false;
    return ((inner + 3) & ~3) + rows <= SCRATCH_FLOATS && mat.length >= (args.batch - 1) * mStride + wn;
  }

  /**
   * Run a matrix–vector product whose matrix lies in this arena; false (nothing written) when the
   * matrix is small (minFloats), its vectors do not fit the scratch or the matrix view
   * does not cover the batch: the caller then runs its copying kernel.
   */
  run(args: MatmulArgs, f: GemvForm): boolean {
    const { batch, a, b, out, aStride, bStride, accumulate } = args;
    const { rows, inner } = f;
    const [mat, vec, mStride, vStride] = f.matrix === 'a' ? [a, b, aStride, bStride] : [b, a, bStride, aStride];
    if (!this.takes(args, f)) return false;
    const wn = rows * inner;
    const X = 0, Y = (inner + 3) & ~3;
    const m32 = this.f32;
    const [dot, axpy] = this.local as [Fn, Fn];
    const acc = accumulate ? 1 : 0;
    const split = f.kind === 'dot' && this.pool.threads > 1 && rows >= 8;
    for (let i = 0; i < batch; i++) {
      m32.set(vec.subarray(i * vStride, i * vStride + inner), X);
      const y = out.subarray(i * rows, (i + 1) * rows);
      if (accumulate) m32.set(y, Y);
      const w = mat.byteOffset + 4 * i * mStride;
      if (f.kind === 'axpy') axpy(w, 4 * X, 4 * Y, inner, 4 * rows, acc);
      else if (!split) dot(w, 4 * X, 4 * Y, rows, 4 * inner, acc);
      else {
        // rows in contiguous shares, multiples of 4 (the kernel's row block), the caller's first
        const t = this.pool.threads;
        const per = Math.ceil(rows / t / 4) * 4;
        const jobs: PoolCall[][] = [];
        for (let s = 0; s < t; s++) {
          const r0 = Math.min(rows, s * per), r1 = Math.min(rows, r0 + per);
          jobs.push(r1 > r0 ? [{ fn: 0, args: [w + 4 * r0 * inner, 4 * X, 4 * (Y + r0), r1 - r0, 4 * inner, acc] }] : []);
        }
        this.pool.run(jobs, this.local);
      }
      y.set(m32.subarray(Y, Y + rows));
    }
    return true;
  }

  /**
   * Whether `swigluExperts` takes this call: every weight a view of this arena, the token's
   * vector and each expert's size multiples of 4 (the `dot` kernel's lanes), all fitting the scratch.
   */
  takesExperts(a: SwigluExpertsArgs): boolean {
    const { dim: D, sizes } = a;
    if (D % 4 !== 0 || sizes.length === 0) return false;
    let floats = 2 * D;
    for (let e = 0; e < sizes.length; e++) {
      const s = sizes[e]!;
      if (s % 4 !== 0 || s === 0) return false;
      floats += 2 * s;
      for (const [m, n] of [[a.gates[e]!, s * D], [a.ups[e]!, s * D], [a.downs[e]!, D * s]] as const) {
        if (m.buffer !== this.memory.buffer || m.length < n) return false;
      }
    }
    return floats <= SCRATCH_FLOATS;
  }

  /**
   * A token through its experts (SwigluExpertsArgs), reading every weight in place, in two
   * fork-joins however many experts: first each expert's gate and up products (experts dealt out
   * to the threads), then, after silu(g) ⊙ u · coef on the calling thread, the down products (the
   * D output rows split over the threads, each thread adding every expert into its rows). The
   * expert-by-expert path costs three products, a registry dispatch and a fork-join each.
   * False (nothing written) when `takesExperts` says no.
   */
  swigluExperts(a: SwigluExpertsArgs): boolean {
    if (!this.takesExperts(a)) return false;
    const { x, gates, ups, downs, coef, sizes, dim: D, out } = a;
    const n = sizes.length;
    const m32 = this.f32;
    const T = this.pool.threads;
    // scratch (floats): x [D] · y [D] · per expert g_e [s_e] then u_e [s_e]
    const X = 0, Y = D;
    const G: number[] = [];
    let at = 2 * D;
    for (let e = 0; e < n; e++) { G.push(at); at += 2 * sizes[e]!; }
    m32.set(x.subarray(0, D), X);
    // 1. g_e = gate_e·x, u_e = up_e·x; expert e on thread e mod T
    for (let e0 = 0; e0 < n; e0 += (CALLS_PER_SLOT / 2) * T) {
      const jobs: PoolCall[][] = Array.from({ length: T }, () => []);
      for (let e = e0; e < Math.min(n, e0 + (CALLS_PER_SLOT / 2) * T); e++) {
        const s = sizes[e]!;
        jobs[e % T]!.push(
          { fn: 0, args: [gates[e]!.byteOffset, 4 * X, 4 * G[e]!, s, 4 * D, 0] },
          { fn: 0, args: [ups[e]!.byteOffset, 4 * X, 4 * (G[e]! + s), s, 4 * D, 0] },
        );
      }
      this.runJobs(jobs);
    }
    // 2. h_e = coef_e · silu(g_e) ⊙ u_e, over g_e
    for (let e = 0; e < n; e++) {
      const g0 = G[e]!, s = sizes[e]!, c = coef[e]!;
      for (let i = 0; i < s; i++) {
        const g = m32[g0 + i]!;
        m32[g0 + i] = ((g / (1 + Math.exp(-g))) * m32[g0 + s + i]!) * c;
      }
    }
    // 3. y = Σ_e down_e·h_e: thread t owns rows [r0, r1) of y (multiples of 4, the kernel's row block)
    const per = Math.ceil(D / T / 4) * 4;
    for (let e0 = 0; e0 < n; e0 += CALLS_PER_SLOT) {
      const jobs: PoolCall[][] = [];
      for (let t = 0; t < T; t++) {
        const r0 = Math.min(D, t * per), r1 = Math.min(D, r0 + per);
        const calls: PoolCall[] = [];
        if (r1 > r0) {
          for (let e = e0; e < Math.min(n, e0 + CALLS_PER_SLOT); e++) {
            const s = sizes[e]!;
            calls.push({ fn: 0, args: [downs[e]!.byteOffset + 4 * r0 * s, 4 * G[e]!, 4 * (Y + r0), r1 - r0, 4 * s, e > 0 ? 1 : 0] });
          }
        }
        jobs.push(calls);
      }
      this.runJobs(jobs);
    }
    out.set(m32.subarray(Y, Y + D));
    return true;
  }

  /** Run per-thread call lists: on the pool when another thread has work, else on the calling thread. */
  private runJobs(jobs: PoolCall[][]): void {
    if (jobs.slice(1).some((j) => j.length > 0)) this.pool.run(jobs, this.local);
    else for (const c of jobs[0] ?? []) this.local[c.fn]!(...(c.args as [number, number, number, number, number, number]));
  }
}

/**
 * Calls one thread's control slot holds (pool.ts: 128 words, each `dot` call 8): a job with more
 * experts than 7 per thread is run in several rounds.
 */
const CALLS_PER_SLOT = 14;

/** The arena holding `a`, if `a` is a view of one. */
export function weightArenaOf(a: Float32Array): WeightArena | undefined {
  return arenas.get(a.buffer);
}

/** True when `a` is a view of a SharedArrayBuffer (which onnxruntime-node refuses). */
export function isSharedView(a: Float32Array): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && a.buffer instanceof SharedArrayBuffer;
}
