/**
 * The `gpujs` backend: registry kernels (matmul, binary, unary, softmax, rmsnorm, swiglu) run by
 * gpu.js, plus async helpers for gpu.js's Promise-only WebGPU mode.
 *
 * Nothing happens at import: `await initGpujsBackend()` loads gpu.js (dynamically, so code that
 * never initialises this backend never loads it), picks a mode, and registers the kernels; the
 * kernels themselves are synchronous afterwards. gpu.js falls back silently (a whole GPU instance
 * to a lower mode, or a single kernel to `cpu`), so the mode that actually ran is recorded and
 * returned by `gpujsBackendInfo()` — benchmarks and tests assert it.
 */
import { ShapeError, TensorError } from '../../errors.js';
import {
  registerKernel,
  unregisterKernel,
  type BinaryArgs,
  type KernelName,
  type MatmulArgs,
  type RmsNormArgs,
  type SoftmaxArgs,
  type SwigluArgs,
  type UnaryArgs,
} from '../../registry.js';
import { KernelCache, type GpujsKernelFn, type KernelCacheStats } from './kernel-cache.js';
import {
  RMSNORM_APPLY_SOURCE,
  RMSNORM_STATS_SOURCE,
  SOFTMAX_APPLY_SOURCE,
  SOFTMAX_STATS_SOURCE,
  SWIGLU_SOURCE,
  binarySource,
  matmulSource,
  unarySource,
} from './kernel-sources.js';
import { GPUJS_MAX_KERNEL_ELEMENTS, chunkEven, packBlock, planMatmulTiles } from './tiling.js';

export const GPUJS_BACKEND = 'gpujs';

/** gpu.js modes this backend accepts. 'gpu' lets gpu.js choose (headlessgl → webgl2 → webgl → webasm). */
export type GpujsMode = 'gpu' | 'webgl2' | 'webgl' | 'webgpu' | 'webasm' | 'headlessgl' | 'cpu';
const MODES: readonly GpujsMode[] = ['gpu', 'webgl2', 'webgl', 'webgpu', 'webasm', 'headlessgl', 'cpu'];

export interface GpujsBackendOptions {
  /**
   * gpu.js mode, default 'gpu' (auto). 'webgpu' is Promise-only in gpu.js, so it drives the async
   * helpers (`matmulAsync`) while the synchronous registry kernels use auto selection.
   */
  mode?: GpujsMode;
  /** Decline (fall back to cpu) calls whose output has fewer elements than this. Default 0. */
  minWork?: number;
  /** Largest array or output of one kernel call. Default and maximum 2^24 (f32-exact indices). */
  maxKernelElements?: number;
  /** Compiled-kernel LRU bounds. Defaults: 64 kernels, 1 GiB of estimated kernel memory. */
  cacheEntries?: number;
  cacheBytes?: number;
}

export interface GpujsBackendInfo {
  backend: 'gpujs';
  requestedMode: GpujsMode;
  /** The mode gpu.js selected for the synchronous kernels ('webasm', 'headlessgl', 'cpu', ...). */
  mode: string;
  /** Every mode a kernel actually ran in so far; more than `[mode]` means a kernel degraded. */
  kernelModes: string[];
  /** gpu.js's reason for the first kernel that degraded, null while none has. */
  fallbackReason: string | null;
  /** Mode of the async helpers: what async kernels ran in, else 'webgpu' when asked for, else null. */
  asyncMode: string | null;
  /** Every mode an async (`matmulAsync`) kernel actually ran in so far. */
  asyncKernelModes: string[];
  /** Whether gpu.js's webasm backend has f32x4 SIMD here (null when gpu.js does not say). */
  webassemblySimd: boolean | null;
  maxKernelElements: number;
  cache: KernelCacheStats;
  asyncCache: KernelCacheStats;
}

/** The part of gpu.js this backend uses (its own typings lag the modes this version has). */
interface GpuInstance {
  mode: string;
  Kernel: { mode: string } | null;
  createKernel(source: string, settings: Record<string, unknown>): GpujsKernelFn;
  destroy(): Promise<void> | void;
}
interface GpuClass {
  new (settings: { mode: string }): GpuInstance;
  isWebGPUAvailable(): Promise<boolean>;
}
interface GpujsModule {
  GPU: GpuClass;
  WebAssemblyKernel?: { isSIMDSupported?: boolean };
}

interface State {
  lib: GpujsModule;
  gpu: GpuInstance;
  /** Lazily created for async calls; set at init for 'webgpu'. */
  asyncGpu: GpuInstance | null;
  requestedMode: GpujsMode;
  minWork: number;
  limit: number;
  cache: KernelCache;
  asyncCache: KernelCache;
  kernelModes: Set<string>;
  asyncModes: Set<string>;
  fallbackReason: string | null;
  uninstallWebGPU: (() => void) | null;
  scratchA: { buf: Float32Array };
  scratchB: { buf: Float32Array };
}

let state: State | null = null;

/** Elementwise kernels run in pieces of at most this many elements (bounds each kernel's memory). */
const ELEMENTWISE_CHUNK = 1 << 20;

function requireState(op: string): State {
  if (!state) {
    throw new TensorError('backend', op, "the gpujs backend is not initialised; call `await initGpujsBackend()` first");
  }
  return state;
}

async function loadGpujs(): Promise<GpujsModule> {
  const ns = (await import('gpu.js')) as unknown as Partial<GpujsModule> & { default?: GpujsModule };
  const lib = (ns.GPU ? ns : ns.default) as GpujsModule | undefined;
  if (!lib?.GPU) {
    throw new TensorError('backend', 'initGpujsBackend', "the 'gpu.js' package did not export GPU; reinstall @llama-moe/tensor-core's dependencies");
  }
  return lib;
}

/**
 * Load gpu.js, select `opts.mode` and register the gpujs kernels. Calling it again replaces the
 * previous initialisation. Throws a TensorError when the mode cannot run here.
 */
export async function initGpujsBackend(opts: GpujsBackendOptions = {}): Promise<GpujsBackendInfo> {
  const requestedMode = opts.mode ?? 'gpu';
  if (!MODES.includes(requestedMode)) {
    throw new TensorError('argument', 'initGpujsBackend', `unknown mode '${String(requestedMode)}'; use one of ${MODES.join(', ')}`);
  }
  const limit = opts.maxKernelElements ?? GPUJS_MAX_KERNEL_ELEMENTS;
  if (!Number.isInteger(limit) || limit < 16 || limit > GPUJS_MAX_KERNEL_ELEMENTS) {
    throw new TensorError('argument', 'initGpujsBackend', `maxKernelElements must be an integer in [16, 2^24], got ${limit}`);
  }
  if (state) await disposeGpujsBackend();
  const lib = await loadGpujs();

  let asyncGpu: GpuInstance | null = null;
  let uninstallWebGPU: (() => void) | null = null;
  if (requestedMode === 'webgpu') {
    const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
    if (!nav?.gpu) {
      const { installNodeWebGPU } = await import('./node-webgpu.js');
      uninstallWebGPU = await installNodeWebGPU();
    }
    if (!(await lib.GPU.isWebGPUAvailable())) {
      uninstallWebGPU?.();
      throw new TensorError('backend', 'initGpujsBackend', "mode 'webgpu': navigator.gpu answered no adapter (no GPU or driver); use mode 'gpu'");
    }
    asyncGpu = new lib.GPU({ mode: 'webgpu' });
  }
  const syncMode = requestedMode === 'webgpu' ? 'gpu' : requestedMode;
  let gpu: GpuInstance;
  try {
    gpu = new lib.GPU({ mode: syncMode });
  } catch (err) {
    uninstallWebGPU?.();
    throw new TensorError('backend', 'initGpujsBackend', `gpu.js cannot run mode '${syncMode}' here (${(err as Error).message}); use mode 'gpu' to let gpu.js choose`);
  }
  state = {
    lib,
    gpu,
    asyncGpu,
    requestedMode,
    minWork: opts.minWork ?? 0,
    limit,
    cache: new KernelCache(opts.cacheEntries ?? 64, opts.cacheBytes ?? 2 ** 30),
    asyncCache: new KernelCache(opts.cacheEntries ?? 64, opts.cacheBytes ?? 2 ** 30),
    kernelModes: new Set(),
    asyncModes: new Set(),
    fallbackReason: null,
    uninstallWebGPU,
    scratchA: { buf: new Float32Array(0) },
    scratchB: { buf: new Float32Array(0) },
  };
  registerAll();
  return gpujsBackendInfo();
}

/** Unregister the gpujs kernels and release every compiled kernel, worker and device reference. */
export async function disposeGpujsBackend(): Promise<void> {
  const st = state;
  if (!st) return;
  state = null;
  for (const k of KERNELS) unregisterKernel(k, GPUJS_BACKEND);
  st.cache.clear();
  st.asyncCache.clear();
  await st.gpu.destroy();
  if (st.asyncGpu) await st.asyncGpu.destroy();
  st.uninstallWebGPU?.();
}

export function isGpujsBackendReady(): boolean {
  return state !== null;
}

/** What actually ran: the selected mode, per-kernel modes seen so far, and any fallback reason. */
export function gpujsBackendInfo(): GpujsBackendInfo {
  const st = requireState('gpujsBackendInfo');
  const simd = st.lib.WebAssemblyKernel?.isSIMDSupported;
  return {
    backend: 'gpujs',
    requestedMode: st.requestedMode,
    mode: preciseMode(st, st.gpu.Kernel as unknown as KernelCtorLike) === 'unknown' ? st.gpu.mode : preciseMode(st, st.gpu.Kernel as unknown as KernelCtorLike),
    kernelModes: [...st.kernelModes].sort(),
    fallbackReason: st.fallbackReason,
    asyncMode: [...st.asyncModes][0] ?? (st.requestedMode === 'webgpu' ? 'webgpu' : null),
    asyncKernelModes: [...st.asyncModes].sort(),
    webassemblySimd: typeof simd === 'boolean' ? simd : null,
    maxKernelElements: st.limit,
    cache: st.cache.stats(),
    asyncCache: st.asyncCache.stats(),
  };
}

// ---------------------------------------------------------------------------------------------
// kernel construction

interface KernelSpec {
  key: string;
  source: string;
  /** gpu.js output: [x] or [x, y] */
  output: number[];
  constants?: Record<string, number>;
  /** Longest loop in the kernel: gpu.js's default cap of 1000 iterations would truncate it. */
  loop?: number;
  /** Elements held by the kernel's memory (arguments + output), for the cache budget. */
  elements: number;
}

function getKernel(st: State, spec: KernelSpec, async: boolean): GpujsKernelFn {
  const cache = async ? st.asyncCache : st.cache;
  return cache.get(spec.key, spec.elements * 4, () => {
    const gpu = async ? (st.asyncGpu ??= new st.lib.GPU({ mode: st.requestedMode === 'gpu' ? 'async' : st.requestedMode })) : st.gpu;
    return gpu.createKernel(spec.source, {
      output: spec.output,
      constants: spec.constants ?? {},
      loopMaxIterations: Math.max(spec.loop ?? 0, 64),
      // integer-valued constants become i32 in webasm, so products like thread.y * K stay exact
      strictIntegers: true,
      precision: 'single',
      asyncMode: async,
      dynamicOutput: false,
      dynamicArguments: false,
    });
  });
}

interface KernelCtorLike { mode?: string }

/**
 * gpu.js's WebGL, WebGL2 and headless-gl kernels share the static mode 'gpu' of their GL base
 * class; name the concrete one by comparing against the library's classes.
 */
function preciseMode(st: State, ctor: KernelCtorLike | undefined): string {
  if (!ctor) return 'unknown';
  const lib = st.lib as unknown as Record<string, unknown>;
  if (lib.WebGL2Kernel && ctor === lib.WebGL2Kernel) return 'webgl2';
  if (lib.HeadlessGLKernel && ctor === lib.HeadlessGLKernel) return 'headlessgl';
  if (lib.WebGLKernel && ctor === lib.WebGLKernel) return 'webgl';
  return ctor.mode ?? 'unknown';
}

/** Record which mode a kernel really ran in (gpu.js swaps in a cpu kernel on fallback). */
function observe(st: State, fn: GpujsKernelFn, async: boolean): void {
  const mode = preciseMode(st, fn.kernel.constructor as unknown as KernelCtorLike);
  (async ? st.asyncModes : st.kernelModes).add(mode);
  const reason = fn.kernel.fallbackReason;
  if (reason && st.fallbackReason === null) st.fallbackReason = reason;
}

function run(st: State, spec: KernelSpec, args: unknown[]): unknown {
  const fn = getKernel(st, spec, false);
  const result = fn(...args);
  observe(st, fn, false);
  return result;
}

async function runAsync(st: State, spec: KernelSpec, args: unknown[]): Promise<unknown> {
  const fn = getKernel(st, spec, true);
  const result = await fn(...args);
  observe(st, fn, true);
  return result;
}

/** Copy a [rows][cols] kernel result into `out` at `offset` with row stride `ld` (+= when `add`). */
function writeRows(result: unknown, out: Float32Array, offset: number, ld: number, rows: number, cols: number, add: boolean): void {
  const rs = result as ArrayLike<ArrayLike<number>>;
  for (let r = 0; r < rows; r++) {
    const row = rs[r]!;
    const o = offset + r * ld;
    if (add) {
      for (let c = 0; c < cols; c++) out[o + c]! += row[c]!;
    } else if (row instanceof Float32Array && row.length === cols) {
      out.set(row, o);
    } else {
      for (let c = 0; c < cols; c++) out[o + c] = row[c]!;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// matmul

function checkMatmul(args: MatmulArgs): void {
  const { a, b, out, batch, m, n, k, aStride, bStride } = args;
  for (const [name, v] of [['batch', batch], ['m', m], ['n', n], ['k', k], ['aStride', aStride], ['bStride', bStride]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new ShapeError('matmul[gpujs]', `${name} must be a non-negative integer, got ${v}`);
  }
  if (batch === 0) return;
  if (out.length < batch * m * n) throw new ShapeError('matmul[gpujs]', `out holds ${out.length} elements, needs batch·m·n = ${batch * m * n}`);
  if (a.length < (batch - 1) * aStride + m * k) throw new ShapeError('matmul[gpujs]', `a holds ${a.length} elements, needs ${(batch - 1) * aStride + m * k} for batch ${batch}, aStride ${aStride}, m·k ${m * k}`);
  if (b.length < (batch - 1) * bStride + k * n) throw new ShapeError('matmul[gpujs]', `b holds ${b.length} elements, needs ${(batch - 1) * bStride + k * n} for batch ${batch}, bStride ${bStride}, k·n ${k * n}`);
}

interface MatmulStep {
  spec: KernelSpec;
  a: Float32Array;
  b: Float32Array;
  /** Write the [mc][nc] tile result into args.out. */
  write(result: unknown): void;
}

/**
 * The kernel calls of one matmul, lazily (tiles are packed into shared scratch buffers, so each
 * step must run before the next is drawn). Yields nothing for empty outputs; k = 0 is handled here.
 */
function* matmulSteps(st: State, args: MatmulArgs): Generator<MatmulStep> {
  checkMatmul(args);
  const { a, b, out, batch, m, n, k, transA, transB, aStride, bStride, accumulate } = args;
  if (batch === 0 || m === 0 || n === 0) return;
  if (k === 0) {
    if (!accumulate) out.fill(0, 0, batch * m * n);
    return;
  }
  const tiles = planMatmulTiles(m, n, k, st.limit);
  for (let bi = 0; bi < batch; bi++) {
    const aOff = bi * aStride;
    const bOff = bi * bStride;
    const oOff = bi * m * n;
    // a packed (non-contiguous) tile is reused while the next step needs the very same block
    let lastA = '';
    let lastB = '';
    let tileA = a;
    let tileB = b;
    for (const t of tiles) {
      const keyA = `${t.m0},${t.mc},${t.k0},${t.kc}`;
      const keyB = `${t.n0},${t.nc},${t.k0},${t.kc}`;
      if (keyA !== lastA) {
        /** [mc, kc] or [kc, mc] when transA */
        tileA = transA ? packBlock(a, aOff, m, t.k0, t.kc, t.m0, t.mc, st.scratchA) : packBlock(a, aOff, k, t.m0, t.mc, t.k0, t.kc, st.scratchA);
        lastA = keyA;
      }
      if (keyB !== lastB) {
        /** [kc, nc] or [nc, kc] when transB */
        tileB = transB ? packBlock(b, bOff, k, t.n0, t.nc, t.k0, t.kc, st.scratchB) : packBlock(b, bOff, n, t.k0, t.kc, t.n0, t.nc, st.scratchB);
        lastB = keyB;
      }
      const add = accumulate || t.k0 > 0;
      yield {
        spec: {
          key: `matmul|${t.mc}x${t.nc}x${t.kc}|${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`,
          source: matmulSource(transA, transB),
          output: [t.nc, t.mc],
          constants: { M: t.mc, N: t.nc, K: t.kc, K4: t.kc - (t.kc % 4) },
          loop: t.kc,
          elements: t.mc * t.kc + t.kc * t.nc + t.mc * t.nc,
        },
        a: tileA,
        b: tileB,
        write: (result) => writeRows(result, out, oOff + t.m0 * n + t.n0, n, t.mc, t.nc, add),
      };
    }
  }
}

function matmulGpujs(args: MatmulArgs): void {
  const st = requireState('matmul[gpujs]');
  for (const step of matmulSteps(st, args)) step.write(run(st, step.spec, [step.a, step.b]));
}

/**
 * The matmul kernel through gpu.js's async contract: WebGPU when initialised with mode 'webgpu'
 * (the only way to reach WebGPU, whose readback has no synchronous form); otherwise gpu.js's
 * 'async' auto mode, which on webasm splits each call across a worker pool.
 */
export async function matmulAsync(args: MatmulArgs): Promise<void> {
  const st = requireState('matmulAsync');
  for (const step of matmulSteps(st, args)) step.write(await runAsync(st, step.spec, [step.a, step.b]));
}

// ---------------------------------------------------------------------------------------------
// elementwise

function checkSameLength(op: string, pairs: [string, Float32Array][], n: number): void {
  for (const [name, v] of pairs) {
    if (v.length !== n) throw new ShapeError(op, `${name} has ${v.length} elements, expected ${n} (same length as the first input)`);
  }
}

/** Run a 1-D kernel over [0, n) in chunks; `key` and `source` name the kernel, `inputs` are full-length. */
function elementwise(st: State, key: string, source: string, inputs: Float32Array[], out: Float32Array, loop = 0): void {
  const n = out.length;
  for (const c of chunkEven(n, Math.min(ELEMENTWISE_CHUNK, st.limit))) {
    const spec: KernelSpec = { key: `${key}|${c.size}`, source, output: [c.size], loop, elements: c.size * (inputs.length + 1) };
    const result = run(st, spec, inputs.map((x) => x.subarray(c.start, c.start + c.size)));
    out.set(result as ArrayLike<number>, c.start);
  }
}

function binaryGpujs({ op, a, b, out }: BinaryArgs): void {
  const st = requireState('binary[gpujs]');
  checkSameLength(`binary[gpujs] ${op}`, [['a', a], ['b', b]], out.length);
  elementwise(st, `binary|${op}`, binarySource(op), [a, b], out);
}

function unaryGpujs({ op, x, out }: UnaryArgs): void {
  const st = requireState('unary[gpujs]');
  checkSameLength(`unary[gpujs] ${op}`, [['x', x]], out.length);
  elementwise(st, `unary|${op}`, unarySource(op), [x], out, op === 'gelu' ? 100 : 0);
}

function swigluGpujs({ gate, up, out }: SwigluArgs): void {
  const st = requireState('swiglu[gpujs]');
  checkSameLength('swiglu[gpujs]', [['gate', gate], ['up', up]], out.length);
  elementwise(st, 'swiglu', SWIGLU_SOURCE, [gate, up], out);
}

// ---------------------------------------------------------------------------------------------
// row-wise

function checkRows(op: string, x: Float32Array, out: Float32Array, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new ShapeError(op, `rows and cols must be non-negative integers, got ${rows}, ${cols}`);
  }
  if (x.length !== rows * cols || out.length !== rows * cols) {
    throw new ShapeError(op, `x has ${x.length} and out ${out.length} elements, expected rows·cols = ${rows}·${cols} = ${rows * cols}`);
  }
}

/** One row must fit a kernel argument (the registry's `supports` already routes such rows to cpu). */
function checkRowFits(op: string, st: State, cols: number): void {
  if (cols > st.limit) throw new ShapeError(op, `rows of ${cols} elements exceed the gpujs per-kernel limit of ${st.limit}; run this op on the cpu backend`);
}

function softmaxGpujs({ x, out, rows, cols }: SoftmaxArgs): void {
  const st = requireState('softmax[gpujs]');
  checkRows('softmax[gpujs]', x, out, rows, cols);
  if (rows === 0 || cols === 0) return;
  checkRowFits('softmax[gpujs]', st, cols);
  for (const rc of chunkEven(rows, Math.floor(st.limit / cols))) {
    /** [R, C] */
    const xs = x.subarray(rc.start * cols, (rc.start + rc.size) * cols);
    const stats = run(st, { key: `softmax-stats|${rc.size}x${cols}`, source: SOFTMAX_STATS_SOURCE, output: [rc.size], constants: { C: cols }, loop: cols, elements: rc.size * (cols + 2) }, [xs]) as ArrayLike<ArrayLike<number>>;
    /** [R, 2]: row max, Σ exp(x − max) */
    const flat = new Float32Array(rc.size * 2);
    for (let r = 0; r < rc.size; r++) {
      flat[2 * r] = stats[r]![0]!;
      flat[2 * r + 1] = stats[r]![1]!;
    }
    const result = run(st, { key: `softmax-apply|${rc.size}x${cols}`, source: SOFTMAX_APPLY_SOURCE, output: [cols, rc.size], constants: { C: cols }, elements: rc.size * (2 * cols + 2) }, [xs, flat]);
    writeRows(result, out, rc.start * cols, cols, rc.size, cols, false);
  }
}

function rmsnormGpujs({ x, weight, out, rows, cols, eps, invRms }: RmsNormArgs): void {
  const st = requireState('rmsnorm[gpujs]');
  checkRows('rmsnorm[gpujs]', x, out, rows, cols);
  if (weight.length !== cols) throw new ShapeError('rmsnorm[gpujs]', `weight has ${weight.length} elements, expected cols = ${cols}`);
  if (invRms && invRms.length !== rows) throw new ShapeError('rmsnorm[gpujs]', `invRms has ${invRms.length} elements, expected rows = ${rows}`);
  if (!(eps >= 0)) throw new TensorError('argument', 'rmsnorm[gpujs]', `eps must be ≥ 0, got ${eps}`);
  if (rows === 0 || cols === 0) return;
  checkRowFits('rmsnorm[gpujs]', st, cols);
  for (const rc of chunkEven(rows, Math.floor(st.limit / cols))) {
    /** [R, C] */
    const xs = x.subarray(rc.start * cols, (rc.start + rc.size) * cols);
    const inv = run(st, {
      key: `rmsnorm-stats|${rc.size}x${cols}|${eps}`,
      source: RMSNORM_STATS_SOURCE,
      output: [rc.size],
      constants: { C: cols, C4: cols - (cols % 4), eps },
      loop: cols,
      elements: rc.size * (cols + 1),
    }, [xs]) as ArrayLike<number>;
    /** [R] */
    const invF = inv instanceof Float32Array ? inv : Float32Array.from(inv);
    if (invRms) invRms.set(invF, rc.start);
    const result = run(st, { key: `rmsnorm-apply|${rc.size}x${cols}`, source: RMSNORM_APPLY_SOURCE, output: [cols, rc.size], constants: { C: cols }, elements: rc.size * (2 * cols + 1) + cols }, [xs, invF, weight]);
    writeRows(result, out, rc.start * cols, cols, rc.size, cols, false);
  }
}

// ---------------------------------------------------------------------------------------------
// registration

const KERNELS: readonly KernelName[] = ['matmul', 'binary', 'unary', 'softmax', 'rmsnorm', 'swiglu'];

/** Declines calls below `minWork` output elements, and rows too long for f32-exact indexing. */
function registerAll(): void {
  const enough = (elements: number) => elements >= (state?.minWork ?? 0);
  const rowFits = (cols: number) => cols <= (state?.limit ?? GPUJS_MAX_KERNEL_ELEMENTS);
  registerKernel({ kernel: 'matmul', backend: GPUJS_BACKEND, fn: matmulGpujs, supports: (a) => enough(a.batch * a.m * a.n) });
  registerKernel({ kernel: 'binary', backend: GPUJS_BACKEND, fn: binaryGpujs, supports: (a) => enough(a.out.length) });
  registerKernel({ kernel: 'unary', backend: GPUJS_BACKEND, fn: unaryGpujs, supports: (a) => enough(a.out.length) });
  registerKernel({ kernel: 'swiglu', backend: GPUJS_BACKEND, fn: swigluGpujs, supports: (a) => enough(a.out.length) });
  registerKernel({ kernel: 'softmax', backend: GPUJS_BACKEND, fn: softmaxGpujs, supports: (a) => enough(a.rows * a.cols) && rowFits(a.cols) });
  registerKernel({ kernel: 'rmsnorm', backend: GPUJS_BACKEND, fn: rmsnormGpujs, supports: (a) => enough(a.rows * a.cols) && rowFits(a.cols) });
}
