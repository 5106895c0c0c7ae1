/**
 * `native` backend: fp32 matmul on onnxruntime-node's MLAS sgemm (AVX2/AVX-512 kernels, its own
 * intra-op thread pool), reached synchronously through the package's native binding.
 *
 * Why ORT and not our own addon: onnxruntime-node is an optionalDependency whose npm tarball
 * already ships the prebuilt CPU library (bin/napi-v6/<platform>/<arch>/libonnxruntime.so.1 and
 * the N-API binding), so there is no download at install time (its postinstall only fetches
 * CUDA/TensorRT extras, which we do not use), no compiler, no node-gyp. The cost is ~33 MB on
 * disk and ~13 µs of dispatch per call, so `supports` declines tiny products where the plain
 * TypeScript kernel wins. A hand-written C++ addon would need a toolchain on every install; the
 * WebAssembly backend (../wasm) is the portable path (browsers, platforms ORT does not ship).
 *
 * Registration is explicit (the package is `sideEffects: false`):
 *   const status = initNativeBackend();      // { ok, threads, ... } or { ok: false, reason }
 *   if (status.ok) setBackend(['native', 'wasm']);
 */
import { getBackendChain, registerKernel, unregisterKernel, type MatmulArgs } from '../../registry.js';
import { TensorError } from '../../errors.js';
import { OrtGemm, type OrtGemmOptions } from './ort-gemm.js';
import { gemvForm } from '../gemv-form.js';
import { weightArenaOf } from '../wasm/weight-arena.js';

export interface NativeBackendOptions extends OrtGemmOptions {
  /** Decline (fall back down the chain) when 2·M·N·K per matrix is below this. Default 16384. */
  minFlops?: number;
  /**
   * Decline a multi-row product (M > 1 and N > 1) of fewer than this many FLOPs in all
   * (batch·2·M·N·K) when `wasm` comes after `native` in the active chain: there the WebAssembly
   * SIMD kernel, with no ORT dispatch (~25 µs a call here), is faster. Measured (2 cores, loaded,
   * µs per call, native 2 threads / wasm): 128×32·32×64 46 / 25, 128×64·64×32 Bᵀ 49 / 42,
   * 32×128·128×64 Aᵀ 36 / 25 (0.5 MFLOP); at 1 MFLOP they tie, at 2 MFLOP native is ~1.7×
   * faster. These are an MoE layer's per-expert products on small shapes (dim 64, 8 experts).
   * Matrix–vector products (decode) are `gemvWasmMaxBytes`' business. Default 786432 (0.75 MFLOP);
   * 0 turns it off. (It once looked as if it broke the bit-identity of a model read from its GGUF and
   * from its folder: the cause was the GGUF's float32 rms_norm_eps, now read back as the config's value.)
   */
  smallProductFlops?: number;
  /**
   * Decline a matrix–vector product (M = 1 or N = 1: a decode step's products) whose matrix is at
   * most this many bytes when `wasm` follows `native` in the active chain: the wasm matrix–vector
   * kernel (../wasm/gemv-module.ts) copies the matrix in and runs on the calling thread, with no ORT
   * dispatch or thread hand-off. Measured (2 cores, loaded, µs per call, cache-cold weights,
   * native 2 threads / native 1 thread / wasm): 48×288 expert gate 46 / 26 / 5; 288×288 109 / 75 /
   * 42; 288×768 130 / 141 / 100; 768×768 (2.3 MB) 174 / 183 / 209; the 288×32000 LM head 3.5 / 3.2 /
   * 7.9 ms. Default 1 MiB; 0 keeps every matrix–vector product on native. A pinned matrix
   * (pinTensors: a view of a wasm weight arena) that the arena reads in place is declined whatever
   * its size; onnxruntime-node could only read it through a copy (ort-gemm.ts).
   */
  gemvWasmMaxBytes?: number;
}

/** Whether `wasm` follows `native` in the active chain (so a declined product lands there, not on the plain-TypeScript cpu kernel). */
function wasmFollowsNative(): boolean {
  const chain = getBackendChain();
  const w = chain.indexOf('wasm');
  return w >= 0 && w > chain.indexOf('native');
}

export type NativeBackendStatus =
  | { ok: true; backend: 'native'; threads: number; detail: string }
  | { ok: false; backend: 'native'; reason: string };

let active: OrtGemm | undefined;

/**
 * Load onnxruntime-node and register the `native` matmul kernel. Never throws: when ORT cannot
 * be loaded (not installed, unsupported platform, not Node) it returns `{ ok: false, reason }`
 * and registers nothing. Calling it again replaces the previous instance (e.g. new thread count).
 */
export function initNativeBackend(opts: NativeBackendOptions = {}): NativeBackendStatus {
  let gemm: OrtGemm;
  try {
    gemm = new OrtGemm(opts);
  } catch (e) {
    return { ok: false, backend: 'native', reason: `onnxruntime-node unavailable: ${(e as Error).message}` };
  }
  active?.dispose();
  active = gemm;
  const minFlops = opts.minFlops ?? 16384;
  const smallFlops = opts.smallProductFlops ?? 786432;
  const gemvMaxBytes = opts.gemvWasmMaxBytes ?? 1 << 20;
  registerKernel({
    kernel: 'matmul',
    backend: 'native',
    fn: (args: MatmulArgs) => gemm.gemm(args),
    supports: (args: MatmulArgs) => {
      const flops = 2 * args.m * args.n * args.k;
      if (flops < minFlops) return false;
      const gemv = gemvForm(args);
      if (gemv) {
        if (!wasmFollowsNative()) return true;
        // a pinned matrix (pinTensors) is read in place by the wasm kernel on every thread
        if (weightArenaOf(gemv.matrix === 'a' ? args.a : args.b)?.takes(args, gemv)) return false;
        return 4 * gemv.rows * gemv.inner > gemvMaxBytes;
      }
      return !(args.batch * flops < smallFlops && wasmFollowsNative());
    },
  });
  return { ok: true, backend: 'native', threads: gemm.threads, detail: `onnxruntime-node ${gemm.version} (MLAS sgemm), ${gemm.threads} intra-op threads` };
}

/** Unregister the `native` kernel and release the ORT sessions. */
export function disposeNativeBackend(): void {
  unregisterKernel('matmul', 'native');
  active?.dispose();
  active = undefined;
}

/** Direct access to the GEMM (bypassing the registry), e.g. for benchmarks. */
export function nativeMatmul(args: MatmulArgs): void {
  if (!active) throw new TensorError('backend', 'nativeMatmul', 'the native backend is not initialised; call initNativeBackend() first (and check its status)');
  active.gemm(args);
}

export { OrtGemm, type OrtGemmOptions } from './ort-gemm.js';
export { gemmModel, type GemmModelSpec } from './onnx-model.js';
