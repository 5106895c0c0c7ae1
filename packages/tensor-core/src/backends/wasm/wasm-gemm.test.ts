import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstMismatch, randomF32, referenceMatmul } from '../../bench/gemm-reference.js';
import { checkMatmul, matmulProblem, type MatmulProblem } from '../../testing/matmul-problem.js';
import { registerCpuBackend } from '../../registry.js';
import { lastBackend, runKernel, setBackend, type MatmulArgs } from '../../registry.js';
import { disposeWasmBackend, initWasmBackend, WasmGemm } from './index.js';
import { emitGemmModule, relaxedSimdSupported } from './gemm-module.js';
import { sleb, uleb } from './wasm-emitter.js';


describe('wasm emitter', () => {
  it('encodes LEB128 like the spec examples', () => {
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(sleb(63)).toEqual([63]);
    expect(sleb(64)).toEqual([0xc0, 0x00]);
    expect(sleb(-64)).toEqual([0x40]);
  });
  it('emits modules the engine validates, shared and not', () => {
    for (const shared of [false, true]) {
      expect(WebAssembly.validate(emitGemmModule({ unroll: 1, kc: 256, mcPanels: 32, fma: false, memory: { initialPages: 1, maximumPages: 16, shared } }))).toBe(true);
    }
    // relaxed SIMD is probed, not assumed
    expect(typeof relaxedSimdSupported()).toBe('boolean');
  });
});

describe('wasm backend matmul', () => {
  let pooled: WasmGemm;
  let single: WasmGemm;
  let tinyBudget: WasmGemm;

  beforeAll(async () => {
    // minParallelFlops 0: even tiny random problems go through the worker pool
    pooled = await WasmGemm.create({ threads: 2, minParallelFlops: 0 });
    single = await WasmGemm.create({ threads: 1 });
    // a 64 KiB budget forces blocking over M and N on most random shapes
    tinyBudget = await WasmGemm.create({ threads: 2, minParallelFlops: 0, memoryBudgetBytes: 64 * 1024, kc: 16, mcPanels: 2 });
  });
  afterAll(() => {
    pooled.dispose();
    single.dispose();
    tinyBudget.dispose();
    disposeWasmBackend();
  });

  it('starts a 2-thread pool on shared memory under Node', () => {
    expect(pooled.info.threads).toBe(2);
    expect(pooled.info.sharedMemory).toBe(true);
    expect(single.info.sharedMemory).toBe(false);
  });

  it('matches the float64 reference: pooled', () => {
    fc.assert(fc.property(matmulProblem(70), (p) => checkMatmul((a) => pooled.gemm(a), p)), { numRuns: 80 });
  });

  it('matches the float64 reference: single thread', () => {
    fc.assert(fc.property(matmulProblem(40), (p) => checkMatmul((a) => single.gemm(a), p)), { numRuns: 60 });
  });

  it('matches the float64 reference when blocked over M and N by the memory budget', () => {
    fc.assert(fc.property(matmulProblem(90), (p) => checkMatmul((a) => tinyBudget.gemm(a), p)), { numRuns: 40 });
  });

  it('handles k = 0 (zero or unchanged output)', () => {
    for (const accumulate of [false, true]) {
      const out = new Float32Array([1, 2, 3, 4, 5, 6]);
      pooled.gemm({ a: new Float32Array(0), b: new Float32Array(0), out, batch: 1, m: 2, n: 3, k: 0, transA: false, transB: false, aStride: 0, bStride: 0, accumulate });
      expect([...out]).toEqual(accumulate ? [1, 2, 3, 4, 5, 6] : [0, 0, 0, 0, 0, 0]);
    }
  });

  it('indexes operands with more than 2^24 elements exactly (A: 4097×4096, and transposed B: 4097×4096)', () => {
    const k = 4096;
    const big = randomF32(4097 * k, 7); // 16 781 312 > 2^24 elements
    const small = randomF32(k * 3, 8);
    const argsA: MatmulArgs = { a: big, b: small, out: new Float32Array(4097 * 3), batch: 1, m: 4097, n: 3, k, transA: false, transB: false, aStride: 0, bStride: 0, accumulate: false };
    pooled.gemm(argsA);
    expect(firstMismatch(argsA.out, referenceMatmul(argsA))).toBeUndefined();
    const argsB: MatmulArgs = { a: small, b: big, out: new Float32Array(3 * 4097), batch: 1, m: 3, n: 4097, k, transA: false, transB: true, aStride: 0, bStride: 0, accumulate: false };
    pooled.gemm(argsB);
    expect(firstMismatch(argsB.out, referenceMatmul(argsB))).toBeUndefined();
  });

  it('registers through initWasmBackend and runs via the registry; declines tiny products', async () => {
    registerCpuBackend();
    const status = await initWasmBackend({ threads: 2, minFlops: 1000 });
    expect(status.ok).toBe(true);
    setBackend('wasm');
    try {
      const p: MatmulProblem = { batch: 2, m: 17, n: 9, k: 33, transA: false, transB: true, broadcastA: false, broadcastB: true, accumulate: false, seed: 3 };
      checkMatmul((a) => runKernel('matmul', a), p);
      expect(lastBackend('matmul')).toBe('wasm');
      checkMatmul((a) => runKernel('matmul', a), { ...p, m: 2, n: 2, k: 3 });
      expect(lastBackend('matmul')).toBe('cpu');
    } finally {
      setBackend('cpu');
    }
  });
});
