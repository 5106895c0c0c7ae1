import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstMismatch, randomF32, referenceMatmul } from '../../bench/gemm-reference.js';
import { checkMatmul, matmulProblem, type MatmulProblem } from '../../testing/matmul-problem.js';
import { registerCpuBackend } from '../../registry.js';
import { getKernel, kernelCounts, lastBackend, registerKernel, resetKernelCounts, runKernel, setBackend, unregisterKernel, type MatmulArgs } from '../../registry.js';
import { disposeNativeBackend, initNativeBackend, nativeMatmul, OrtGemm } from './index.js';
import { batchedMatmulModel, gemmModel } from './onnx-model.js';
import { attention } from '../../ops/attention.js';
import { Tensor } from '../../tensor.js';


describe('onnx model encoder', () => {
  it('writes a ModelProto with ir_version 8, opset 13 and one Gemm node', () => {
    const bytes = gemmModel({ transA: true, transB: false, withC: true });
    expect([...bytes.slice(0, 2)]).toEqual([0x08, 0x08]); // field 1 varint = 8
    const text = new TextDecoder('latin1').decode(bytes);
    for (const s of ['Gemm', 'transA', 'transB', 'beta', 'llama-moe']) expect(text).toContain(s);
  });
});

describe('native backend matmul (onnxruntime-node MLAS)', () => {
  let ort: OrtGemm;

  beforeAll(() => {
    ort = new OrtGemm({ threads: 2 });
  });
  afterAll(() => {
    ort.dispose();
    disposeNativeBackend();
  });

  it('matches the float64 reference on random shapes, transposes, broadcasts and accumulate', () => {
    fc.assert(fc.property(matmulProblem(70), (p) => checkMatmul((a) => ort.gemm(a), p)), { numRuns: 100 });
  });

  it('batched products (no broadcast, no accumulate) run as one FusedMatMul call and match the reference, every transpose', () => {
    const text = new TextDecoder('latin1').decode(batchedMatmulModel({ transA: false, transB: true }));
    for (const s of ['FusedMatMul', 'com.microsoft', 'transB']) expect(text).toContain(s);
    fc.assert(fc.property(matmulProblem(40), fc.integer({ min: 2, max: 6 }), (p, batch) => checkMatmul((a) => ort.gemm(a), { ...p, batch, broadcastA: false, broadcastB: false, accumulate: false })), { numRuns: 60 });
  });

  it('attention (MHA, GQA, causal with offset) on the native chain matches the cpu oracle, values and gradients', () => {
    // minFlops 0: these small products must not fall back to cpu (the comparison would be cpu vs cpu)
    expect(initNativeBackend({ threads: 2, minFlops: 0 }).ok).toBe(true);
    for (const [B, Tq, Tk, Hq, Hkv, d] of [[2, 5, 5, 4, 4, 8], [1, 3, 7, 6, 2, 4], [3, 9, 9, 4, 1, 16]] as const) {
      const q0 = randomF32(B * Tq * Hq * d, 1), k0 = randomF32(B * Tk * Hkv * d, 2), v0 = randomF32(B * Tk * Hkv * d, 3), g = randomF32(B * Tq * Hq * d, 4);
      const run = (chain: string[]) => {
        setBackend(chain);
        const q = new Tensor(q0.slice(), [B, Tq, Hq * d], { requiresGrad: true });
        const k = new Tensor(k0.slice(), [B, Tk, Hkv * d], { requiresGrad: true });
        const v = new Tensor(v0.slice(), [B, Tk, Hkv * d], { requiresGrad: true });
        const y = attention(q, k, v, { heads: Hq, kvHeads: Hkv, headDim: d });
        return [y.data as Float32Array, ...y.node!.backward(g, () => new Float32Array(0)).map((x) => x!)];
      };
      const ref = run(['cpu']);
      resetKernelCounts();
      const got = run(['native']);
      expect(kernelCounts()['matmul/cpu'] ?? 0).toBe(0);
      expect(kernelCounts()['matmul/native']).toBe(6); // 2 forward + 4 backward batched calls
      ref.forEach((r, i) => {
        let diff = 0, scale = 1e-6;
        for (let j = 0; j < r.length; j++) { diff = Math.max(diff, Math.abs(got[i]![j]! - r[j]!)); scale = Math.max(scale, Math.abs(r[j]!)); }
        expect(diff / scale, `output ${i} of ${JSON.stringify({ B, Tq, Tk, Hq, Hkv, d })}`).toBeLessThan(1e-5);
      });
    }
    setBackend(['cpu']);
  });

  it('handles k = 0 (zero or unchanged output)', () => {
    for (const accumulate of [false, true]) {
      const out = new Float32Array([1, 2, 3, 4, 5, 6]);
      ort.gemm({ a: new Float32Array(0), b: new Float32Array(0), out, batch: 1, m: 2, n: 3, k: 0, transA: false, transB: false, aStride: 0, bStride: 0, accumulate });
      expect([...out]).toEqual(accumulate ? [1, 2, 3, 4, 5, 6] : [0, 0, 0, 0, 0, 0]);
    }
  });

  it('indexes operands with more than 2^24 elements exactly (A: 4097×4096, and transposed B: 4097×4096)', () => {
    const k = 4096;
    const big = randomF32(4097 * k, 7); // 16 781 312 > 2^24 elements
    const small = randomF32(k * 3, 8);
    const argsA: MatmulArgs = { a: big, b: small, out: new Float32Array(4097 * 3), batch: 1, m: 4097, n: 3, k, transA: false, transB: false, aStride: 0, bStride: 0, accumulate: false };
    ort.gemm(argsA);
    expect(firstMismatch(argsA.out, referenceMatmul(argsA))).toBeUndefined();
    const argsB: MatmulArgs = { a: small, b: big, out: new Float32Array(3 * 4097), batch: 1, m: 3, n: 4097, k, transA: false, transB: true, aStride: 0, bStride: 0, accumulate: false };
    ort.gemm(argsB);
    expect(firstMismatch(argsB.out, referenceMatmul(argsB))).toBeUndefined();
  });

  it('rejects operand buffers shorter than the shapes imply', () => {
    expect(() => ort.gemm({ a: new Float32Array(5), b: new Float32Array(6), out: new Float32Array(4), batch: 1, m: 2, n: 2, k: 3, transA: false, transB: false, aStride: 0, bStride: 0, accumulate: false })).toThrow(/too short/);
  });

  it('registers through initNativeBackend and runs via the registry; declines tiny products', () => {
    registerCpuBackend();
    const status = initNativeBackend({ threads: 2, minFlops: 1000 });
    expect(status).toMatchObject({ ok: true, backend: 'native', threads: 2 });
    setBackend('native');
    try {
      const p: MatmulProblem = { batch: 3, m: 17, n: 9, k: 33, transA: false, transB: true, broadcastA: false, broadcastB: true, accumulate: true, seed: 3 };
      checkMatmul((a) => runKernel('matmul', a), p);
      expect(lastBackend('matmul')).toBe('native');
      checkMatmul((a) => runKernel('matmul', a), { ...p, m: 2, n: 2, k: 3 });
      expect(lastBackend('matmul')).toBe('cpu');
      checkMatmul((a) => nativeMatmul(a), { ...p, transA: true, broadcastB: false });
    } finally {
      setBackend('cpu');
    }
  });

  it('leaves small products to wasm when wasm follows native in the chain: multi-row ones under smallProductFlops, matrix–vector ones under gemvWasmMaxBytes (not without wasm)', () => {
    registerCpuBackend();
    expect(initNativeBackend({ threads: 2 }).ok).toBe(true);
    // a stand-in `wasm` matmul (the cpu oracle): only where the registry sends each product matters here
    const hadWasm = getKernel('matmul', 'wasm');
    registerKernel({ kernel: 'matmul', backend: 'wasm', fn: getKernel('matmul', 'cpu')!.fn });
    const base: MatmulProblem = { batch: 1, m: 128, n: 32, k: 64, transA: false, transB: true, broadcastA: false, broadcastB: true, accumulate: false, seed: 5 };
    const ranOn = (p: MatmulProblem) => {
      checkMatmul((a) => runKernel('matmul', a), p);
      return lastBackend('matmul');
    };
    try {
      setBackend(['native', 'wasm']);
      expect(ranOn(base)).toBe('wasm'); // 0.5 MFLOP (an MoE expert's product on the demo shape): under the default 0.75
      expect(ranOn({ ...base, k: 256 })).toBe('native'); // 2 MFLOP
      expect(ranOn({ ...base, batch: 4, broadcastA: false, broadcastB: false })).toBe('native'); // 2 MFLOP in one batched call
      expect(ranOn({ ...base, m: 1, n: 2048 })).toBe('wasm'); // one-row product (decode) of a 512 KiB matrix: gemvWasmMaxBytes, 1 MiB by default
      expect(ranOn({ ...base, m: 1, n: 8192 })).toBe('native'); // a 2 MiB matrix
      expect(ranOn({ ...base, m: 96, n: 1, k: 256, transB: false })).toBe('wasm'); // one output column (96 KiB): the matrix is A
      setBackend(['native']);
      expect(ranOn(base)).toBe('native'); // no wasm after native: not down to the cpu kernel
      expect(initNativeBackend({ threads: 2, smallProductFlops: 0 }).ok).toBe(true);
      setBackend(['native', 'wasm']);
      expect(ranOn(base)).toBe('native'); // turned off
      expect(initNativeBackend({ threads: 2, gemvWasmMaxBytes: 0 }).ok).toBe(true);
      expect(ranOn({ ...base, m: 1, n: 2048 })).toBe('native'); // matrix–vector products stay on native
    } finally {
      if (hadWasm) registerKernel(hadWasm);
      else unregisterKernel('matmul', 'wasm');
      setBackend('cpu');
    }
  });
});
