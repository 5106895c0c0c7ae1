/**
 * The gpujs backend against float64 references computed here. Tolerances (u = 2^-24, the f32
 * unit roundoff), each a bound on |gpujs − float64 reference| per element:
 * - matmul:  1e-5·k·max|a|·max|b| + 1e-6 (+ 1e-6·|out₀| when accumulating)
 * - binary:  2u·|ref| + 1e-30 (one rounding of exact f32 inputs)
 * - unary:   8u·|ref| + 1e-37 (f64 Math on the f32 input, a few f32 roundings); gelu 16u·|ref| + 1e-37
 *            (measured worst: silu 2.4u, softplus 1.9u, sigmoid 1.9u, gelu 11.5u near |x| = 0.94)
 * - swiglu:  8u·|ref| + 1e-30
 * - softmax: (cols + 8)·u·|ref| + 1e-9 (sequential f32 row sum)
 * - rmsnorm: (cols + 8)·u·|ref| + 1e-9, invRms likewise
 * The mode gpu.js selected is asserted: 'webasm' on a machine without a GL context (override with
 * LLAMA_MOE_GPUJS_EXPECT_MODE). WebGPU runs only with LLAMA_MOE_GPU_TESTS=1.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TensorError } from '../../errors.js';
import {
  getKernel,
  lastBackend,
  registeredBackends,
  runKernel,
  withBackend,
  type BinaryOpName,
  type MatmulArgs,
  type UnaryOpName,
} from '../../registry.js';
import {
  GPUJS_MAX_KERNEL_ELEMENTS,
  disposeGpujsBackend,
  gpujsBackendInfo,
  initGpujsBackend,
  matmulAsync,
  planMatmulTiles,
  type GpujsBackendInfo,
} from './index.js';

const registeredAtImport = registeredBackends();
const EXPECTED_MODE = process.env.LLAMA_MOE_GPUJS_EXPECT_MODE ?? 'webasm';
const U = 2 ** -24;

/** Deterministic PRNG (mulberry32) so fast-check only has to generate a seed, not big arrays. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function randArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}
function maxAbs(x: Float32Array): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]!));
  return m;
}

/** Index of the first element outside tolerance, or -1; `tol(ref, i)` is the allowed |err|. */
function firstBad(got: ArrayLike<number>, ref: ArrayLike<number>, tol: (ref: number, i: number) => number): number {
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i]!;
    const g = got[i]!;
    if (Number.isNaN(r) ? !Number.isNaN(g) : !(Math.abs(g - r) <= tol(r, i))) return i;
  }
  return -1;
}
function expectClose(what: string, got: ArrayLike<number>, ref: ArrayLike<number>, tol: (ref: number, i: number) => number): void {
  const i = firstBad(got, ref, tol);
  expect(i, i < 0 ? what : `${what}: element ${i} got ${got[i]}, float64 reference ${ref[i]}, tolerance ${tol(ref[i]!, i)}`).toBe(-1);
}

/** float64 reference of the MatmulArgs contract. */
function refMatmul(args: MatmulArgs, out0: Float32Array): Float64Array {
  const { a, b, batch, m, n, k, transA, transB, aStride, bStride, accumulate } = args;
  const out = new Float64Array(batch * m * n);
  for (let bi = 0; bi < batch; bi++) {
    const ao = bi * aStride;
    const bo = bi * bStride;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = accumulate ? out0[bi * m * n + i * n + j]! : 0;
        for (let p = 0; p < k; p++) {
          s += a[ao + (transA ? p * m + i : i * k + p)]! * b[bo + (transB ? j * k + p : p * n + j)]!;
        }
        out[bi * m * n + i * n + j] = s;
      }
    }
  }
  return out;
}
function matmulTol(args: MatmulArgs, out0: Float32Array) {
  const scale = 1e-5 * args.k * maxAbs(args.a) * maxAbs(args.b) + 1e-6;
  return (_r: number, i: number) => scale + (args.accumulate ? 1e-6 * Math.abs(out0[i]!) : 0);
}

interface MatmulCase {
  batch: number;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  broadcastA: boolean;
  broadcastB: boolean;
  accumulate: boolean;
  seed: number;
}
function makeMatmul(c: MatmulCase): { args: MatmulArgs; out0: Float32Array } {
  const aStride = c.broadcastA ? 0 : c.m * c.k;
  const bStride = c.broadcastB ? 0 : c.k * c.n;
  const a = randArray(c.broadcastA ? c.m * c.k : c.batch * c.m * c.k, c.seed, -2, 2);
  const b = randArray(c.broadcastB ? c.k * c.n : c.batch * c.k * c.n, c.seed + 1);
  const out0 = randArray(c.batch * c.m * c.n, c.seed + 2);
  const args: MatmulArgs = { a, b, out: out0.slice(), batch: c.batch, m: c.m, n: c.n, k: c.k, transA: c.transA, transB: c.transB, aStride, bStride, accumulate: c.accumulate };
  return { args, out0 };
}

/** Dims biased to 1, small odd sizes and a few multiples of 4 (the SIMD / unrolled paths). */
const dim = fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 9 }), fc.constantFrom(12, 17, 33));
const matmulCase = fc.record({
  batch: fc.integer({ min: 1, max: 3 }),
  m: dim,
  n: dim,
  k: dim,
  transA: fc.boolean(),
  transB: fc.boolean(),
  broadcastA: fc.boolean(),
  broadcastB: fc.boolean(),
  accumulate: fc.boolean(),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

function checkMatmulCase(c: MatmulCase): void {
  const { args, out0 } = makeMatmul(c);
  withBackend('gpujs', () => runKernel('matmul', args));
  expect(lastBackend('matmul')).toBe('gpujs');
  expectClose(`matmul ${JSON.stringify({ ...c, seed: undefined })}`, args.out, refMatmul(args, out0), matmulTol(args, out0));
}

// ---- float64 references of the elementwise / row-wise kernels

/** erf in float64: positive series below 1.5, continued fraction for erfc above (both ~1e-15). */
function erf64(x: number): number {
  const t = Math.abs(x);
  let e: number;
  if (t < 1.5) {
    let term = t;
    let sum = t;
    for (let n = 1; n < 200 && term > 1e-18 * sum; n++) {
      term *= (2 * t * t) / (2 * n + 1);
      sum += term;
    }
    e = (2 / Math.sqrt(Math.PI)) * Math.exp(-t * t) * sum;
  } else {
    let f = t;
    for (let k = 200; k > 0; k--) f = t + k / 2 / f;
    e = 1 - Math.exp(-t * t) / (Math.sqrt(Math.PI) * f);
  }
  return x < 0 ? -e : e;
}
/** x·Φ(x), with the left tail through erfc to keep its relative precision. */
function gelu64(x: number): number {
  if (x >= 0) return 0.5 * x * (1 + erf64(x / Math.SQRT2));
  const t = -x / Math.SQRT2;
  let erfc: number;
  if (t < 1.5) erfc = 1 - erf64(t);
  else {
    let f = t;
    for (let k = 200; k > 0; k--) f = t + k / 2 / f;
    erfc = Math.exp(-t * t) / (Math.sqrt(Math.PI) * f);
  }
  return 0.5 * x * erfc;
}

const UNARY_REF: Record<UnaryOpName, (x: number) => number> = {
  silu: (x) => x / (1 + Math.exp(-x)),
  tanh: Math.tanh,
  softplus: (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))),
  exp: Math.exp,
  neg: (x) => -x,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  relu: (x) => Math.max(x, 0),
  gelu: gelu64,
  sqrt: Math.sqrt,
  log: Math.log,
};
const UNARY_OPS = Object.keys(UNARY_REF) as UnaryOpName[];
const BINARY_REF: Record<BinaryOpName, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
};
const BINARY_OPS = Object.keys(BINARY_REF) as BinaryOpName[];

function refSoftmax(x: Float32Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, x[r * cols + c]!);
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(x[r * cols + c]! - m);
    for (let c = 0; c < cols; c++) out[r * cols + c] = Math.exp(x[r * cols + c]! - m) / s;
  }
  return out;
}
function refRmsnorm(x: Float32Array, w: Float32Array, rows: number, cols: number, eps: number): { out: Float64Array; inv: Float64Array } {
  const out = new Float64Array(rows * cols);
  const inv = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let c = 0; c < cols; c++) ss += x[r * cols + c]! ** 2;
    inv[r] = 1 / Math.sqrt(ss / cols + eps);
    for (let c = 0; c < cols; c++) out[r * cols + c] = x[r * cols + c]! * inv[r]! * w[c]!;
  }
  return { out, inv };
}

function runSoftmax(x: Float32Array, rows: number, cols: number): void {
  const out = new Float32Array(rows * cols);
  withBackend('gpujs', () => runKernel('softmax', { x, out, rows, cols }));
  expect(lastBackend('softmax')).toBe('gpujs');
  expectClose(`softmax ${rows}x${cols}`, out, refSoftmax(x, rows, cols), (r) => (cols + 8) * U * Math.abs(r) + 1e-9);
}
function runRmsnorm(x: Float32Array, w: Float32Array, rows: number, cols: number, eps: number): void {
  const out = new Float32Array(rows * cols);
  const invRms = new Float32Array(rows);
  withBackend('gpujs', () => runKernel('rmsnorm', { x, weight: w, out, rows, cols, eps, invRms }));
  expect(lastBackend('rmsnorm')).toBe('gpujs');
  const ref = refRmsnorm(x, w, rows, cols, eps);
  const tol = (r: number) => (cols + 8) * U * Math.abs(r) + 1e-9;
  expectClose(`rmsnorm ${rows}x${cols}`, out, ref.out, tol);
  expectClose(`rmsnorm invRms ${rows}x${cols}`, invRms, ref.inv, tol);
}

// -------------------------------------------------------------------------------------------

describe('gpujs backend, auto mode', () => {
  let info: GpujsBackendInfo;
  beforeAll(async () => {
    info = await initGpujsBackend();
  });
  afterAll(async () => {
    await disposeGpujsBackend();
  });

  it('registers nothing at import and everything at init, in the mode gpu.js actually selected', () => {
    expect(registeredAtImport).not.toContain('gpujs');
    expect(registeredBackends()).toContain('gpujs');
    for (const k of ['matmul', 'binary', 'unary', 'softmax', 'rmsnorm', 'swiglu'] as const) expect(getKernel(k, 'gpujs')).toBeDefined();
    expect(info.requestedMode).toBe('gpu');
    expect(info.mode).toBe(EXPECTED_MODE);
    expect(info.maxKernelElements).toBe(GPUJS_MAX_KERNEL_ELEMENTS);
  });

  it('float64 references reproduce known erf values', () => {
    expect(Math.abs(erf64(0.5) - 0.5204998778130465)).toBeLessThan(1e-15);
    expect(Math.abs(erf64(1) - 0.8427007929497149)).toBeLessThan(1e-15);
    expect(Math.abs(erf64(-2) + 0.9953222650189527)).toBeLessThan(1e-15);
    expect(Math.abs(1 - erf64(3) - 2.209049699858544e-5)).toBeLessThan(1e-15);
    expect(Math.abs(gelu64(-6) / (-6 * 9.865876450376946e-10) - 1)).toBeLessThan(1e-12); // Φ(−6)
  });

  it('matmul matches float64 (random shapes, transA/transB, batch broadcast, accumulate)', () => {
    fc.assert(fc.property(matmulCase, (c) => checkMatmulCase(c)), { numRuns: 25 });
  });

  it('binary ops match float64', () => {
    fc.assert(
      fc.property(fc.constantFrom(...BINARY_OPS), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (op, n, seed) => {
        const a = randArray(n, seed, -4, 4);
        const b = randArray(n, seed + 1, 0.25, 4).map((v, i) => (i % 2 ? -v : v)); // no zero divisors
        const out = new Float32Array(n);
        withBackend('gpujs', () => runKernel('binary', { op, a, b, out }));
        expect(lastBackend('binary')).toBe('gpujs');
        expectClose(`binary ${op} n=${n}`, out, Float64Array.from(a, (v, i) => BINARY_REF[op](v, b[i]!)), (r) => 2 * U * Math.abs(r) + 1e-30);
      }),
      { numRuns: 16 },
    );
  });

  it('unary ops match float64, every op (gelu is the exact-erf form)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (n, seed) => {
        for (const op of UNARY_OPS) {
          const positive = op === 'sqrt' || op === 'log';
          const x = positive ? randArray(n, seed, 1e-3, 50) : randArray(n, seed, -12, 12);
          const out = new Float32Array(n);
          withBackend('gpujs', () => runKernel('unary', { op, x, out }));
          expect(lastBackend('unary')).toBe('gpujs');
          const tol = op === 'gelu' ? (r: number) => 16 * U * Math.abs(r) + 1e-37 : (r: number) => 8 * U * Math.abs(r) + 1e-37;
          expectClose(`unary ${op} n=${n}`, out, Float64Array.from(x, UNARY_REF[op]), tol);
        }
      }),
      { numRuns: 6 },
    );
  });

  it('gelu is accurate across the erf branch points and in the far tails', () => {
    // branch point |x| = 1, the 2^-8 split grid, deep left tail (Φ(−12) ≈ 1.8e-33)
    const x = Float32Array.from([-30, -16, -15.99, -12, -10, -8, -6, -4, -3, -2.5, -1.0001, -1, -0.9999, -0.94, -0.5, -1e-3, -1e-30, 0, 1e-3, 0.5, 0.99999, 1, 1.00390625, 2.5, 3, 4, 6, 10, 15.99, 16, 30]);
    const out = new Float32Array(x.length);
    withBackend('gpujs', () => runKernel('unary', { op: 'gelu', x, out }));
    expectClose('gelu fixed points', out, Float64Array.from(x, gelu64), (r) => 16 * U * Math.abs(r) + 1e-37);
  });

  it('swiglu matches float64', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 70 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (n, seed) => {
        const gate = randArray(n, seed, -10, 10);
        const up = randArray(n, seed + 1, -3, 3);
        const out = new Float32Array(n);
        withBackend('gpujs', () => runKernel('swiglu', { gate, up, out }));
        expect(lastBackend('swiglu')).toBe('gpujs');
        expectClose(`swiglu n=${n}`, out, Float64Array.from(gate, (g, i) => (g / (1 + Math.exp(-g))) * up[i]!), (r) => 8 * U * Math.abs(r) + 1e-37);
      }),
      { numRuns: 12 },
    );
  });

  it('softmax and rmsnorm match float64 (random rows × cols, eps)', () => {
    fc.assert(
      fc.property(dim, fc.oneof(dim, fc.constant(64)), fc.constantFrom(1e-6, 1e-5, 0.5), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (rows, cols, eps, seed) => {
        const x = randArray(rows * cols, seed, -20, 20);
        runSoftmax(x, rows, cols);
        runRmsnorm(x, randArray(cols, seed + 1, -2, 2), rows, cols, eps);
      }),
      { numRuns: 15 },
    );
  });

  it('caches compiled kernels by shape and flags', () => {
    const c: MatmulCase = { batch: 2, m: 5, n: 7, k: 9, transA: false, transB: true, broadcastA: false, broadcastB: true, accumulate: false, seed: 3 };
    checkMatmulCase(c);
    const before = gpujsBackendInfo().cache;
    checkMatmulCase({ ...c, seed: 4 });
    const after = gpujsBackendInfo().cache;
    expect(after.compiled).toBe(before.compiled);
    expect(after.hits).toBe(before.hits + 2); // one hit per batch entry
  });

  it('matmul above 2^24 elements per operand is tiled and stays exact (transB, B = 4100×4096)', () => {
    const c: MatmulCase = { batch: 1, m: 8, n: 4100, k: 4096, transA: false, transB: true, broadcastA: false, broadcastB: false, accumulate: false, seed: 11 };
    expect(c.n * c.k).toBeGreaterThan(2 ** 24);
    checkMatmulCase(c);
  });

  it('matmul above 2^24 elements: non-transposed B (packed N tiles) and transA (packed M tiles)', () => {
    checkMatmulCase({ batch: 1, m: 3, n: 4096, k: 4100, transA: false, transB: false, broadcastA: false, broadcastB: false, accumulate: true, seed: 12 });
    checkMatmulCase({ batch: 1, m: 4100, n: 2, k: 4096, transA: true, transB: false, broadcastA: false, broadcastB: false, accumulate: false, seed: 13 });
  });

  it('row-wise and elementwise kernels above 2^24 elements', () => {
    const rows = 4100;
    const cols = 4096;
    const x = randArray(rows * cols, 21, -8, 8);
    expect(x.length).toBeGreaterThan(2 ** 24);
    runSoftmax(x, rows, cols);
    runRmsnorm(x, randArray(cols, 22, -2, 2), rows, cols, 1e-6);
    const out = new Float32Array(x.length);
    withBackend('gpujs', () => runKernel('unary', { op: 'silu', x, out }));
    expectClose('silu 4100x4096', out, Float64Array.from(x, UNARY_REF.silu), (r) => 8 * U * Math.abs(r) + 1e-37);
    // 16.8M elements through gpu.js's WebAssembly mode three times: 3–10 s on 2 busy cores
  }, 60_000);

  it('async matmul (gpu.js async contract) matches float64', async () => {
    for (const c of fc.sample(matmulCase, { numRuns: 4, seed: 7 })) {
      const { args, out0 } = makeMatmul(c);
      await matmulAsync(args);
      expectClose('matmulAsync', args.out, refMatmul(args, out0), matmulTol(args, out0));
    }
    // 64×72 outputs reach gpu.js's threaded webasm path (≥ 4096 cells)
    const { args, out0 } = makeMatmul({ batch: 1, m: 64, n: 72, k: 33, transA: false, transB: true, broadcastA: false, broadcastB: false, accumulate: false, seed: 5 });
    await matmulAsync(args);
    expectClose('matmulAsync 64x72x33', args.out, refMatmul(args, out0), matmulTol(args, out0));
    expect(gpujsBackendInfo().asyncKernelModes).toEqual([EXPECTED_MODE]);
  });

  it('no kernel fell back to another mode', () => {
    const now = gpujsBackendInfo();
    expect(now.kernelModes).toEqual([EXPECTED_MODE]);
    expect(now.fallbackReason).toBeNull();
  });
});

describe('gpujs tiling with a tiny per-kernel limit', () => {
  beforeAll(async () => {
    await initGpujsBackend({ mode: 'webasm', maxKernelElements: 64, cacheEntries: 6 });
  });
  afterAll(async () => {
    await disposeGpujsBackend();
  });

  it('plans tiles that cover the output once per K piece and respect the limit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 200 }), fc.integer({ min: 16, max: 5000 }), (m, n, k, limit) => {
        const cover = new Uint32Array(m * n);
        let worst = 0;
        const shapes = new Set<string>();
        for (const t of planMatmulTiles(m, n, k, limit)) {
          worst = Math.max(worst, t.mc * t.kc, t.kc * t.nc, t.mc * t.nc);
          shapes.add(`${t.mc}x${t.nc}x${t.kc}`);
          for (let i = 0; i < t.mc; i++) for (let j = 0; j < t.nc; j++) cover[(t.m0 + i) * n + t.n0 + j] += t.kc;
        }
        expect(worst).toBeLessThanOrEqual(limit);
        expect(cover.every((v) => v === k)).toBe(true);
        // even splits: at most two sizes per axis, so at most 8 kernel shapes to compile
        expect(shapes.size).toBeLessThanOrEqual(8);
      }),
      { numRuns: 60 },
    );
  });

  it('tiled matmul (M, N and K split, host-side K accumulation) matches float64', () => {
    const big = fc.oneof(dim, fc.integer({ min: 10, max: 70 }));
    fc.assert(
      fc.property(matmulCase, big, big, big, (c, m, n, k) => checkMatmulCase({ ...c, m, n, k, batch: Math.min(c.batch, 2) })),
      { numRuns: 15 },
    );
  });

  it('row-wise kernels split rows at the limit', () => {
    runSoftmax(randArray(9 * 13, 1, -5, 5), 9, 13);
    runRmsnorm(randArray(9 * 13, 2), randArray(13, 3), 9, 13, 1e-5);
  });

  it('bounds the kernel cache (LRU eviction)', () => {
    const s = gpujsBackendInfo().cache;
    expect(s.entries).toBeLessThanOrEqual(6);
    expect(s.evicted).toBeGreaterThan(0);
    expect(gpujsBackendInfo().kernelModes).toEqual(['webasm']);
  });

  it('declines calls below minWork and rows longer than the limit', async () => {
    await initGpujsBackend({ mode: 'webasm', maxKernelElements: 64, minWork: 2 });
    expect(getKernel('matmul', 'gpujs')!.supports!(makeMatmul({ batch: 1, m: 1, n: 1, k: 5, transA: false, transB: false, broadcastA: false, broadcastB: false, accumulate: false, seed: 1 }).args)).toBe(false);
    expect(getKernel('softmax', 'gpujs')!.supports!({ x: new Float32Array(65), out: new Float32Array(65), rows: 1, cols: 65 })).toBe(false);
    expect(getKernel('softmax', 'gpujs')!.supports!({ x: new Float32Array(64), out: new Float32Array(64), rows: 1, cols: 64 })).toBe(true);
  });

  it('rejects bad arguments with typed errors', async () => {
    const bad = makeMatmul({ batch: 2, m: 3, n: 3, k: 3, transA: false, transB: false, broadcastA: false, broadcastB: false, accumulate: false, seed: 1 }).args;
    expect(() => getKernel('matmul', 'gpujs')!.fn({ ...bad, out: new Float32Array(5) })).toThrow(/matmul\[gpujs\]: out holds 5/);
    await expect(initGpujsBackend({ mode: 'nope' as never })).rejects.toThrow(TensorError);
  });
});

describe('gpujs WebGPU mode', () => {
  afterAll(async () => {
    await disposeGpujsBackend();
  });

  it('either initialises WebGPU or says why in a TensorError', async () => {
    let info: GpujsBackendInfo | null = null;
    try {
      info = await initGpujsBackend({ mode: 'webgpu' });
    } catch (err) {
      expect(err).toBeInstanceOf(TensorError);
      expect((err as TensorError).code).toBe('backend');
      expect((err as Error).message).toMatch(/mode 'webgpu'/);
    }
    if (process.env.LLAMA_MOE_GPU_TESTS === '1') expect(info).not.toBeNull();
    if (info) expect(info.asyncMode).toBe('webgpu');
  });

  it.runIf(process.env.LLAMA_MOE_GPU_TESTS === '1')('matmulAsync on WebGPU matches float64', async () => {
    await initGpujsBackend({ mode: 'webgpu' });
    const cases = [...fc.sample(matmulCase, { numRuns: 6, seed: 9 }), { batch: 1, m: 8, n: 4100, k: 4096, transA: false, transB: true, broadcastA: false, broadcastB: false, accumulate: false, seed: 31 }];
    for (const c of cases) {
      const { args, out0 } = makeMatmul(c);
      await matmulAsync(args);
      expectClose(`webgpu matmul ${JSON.stringify(c)}`, args.out, refMatmul(args, out0), matmulTol(args, out0));
    }
    expect(gpujsBackendInfo().asyncKernelModes).toEqual(['webgpu']);
    expect(gpujsBackendInfo().mode).not.toBe('cpu');
  });
});
