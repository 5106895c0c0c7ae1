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
import { registerKernel, unregisterKernel, type MatmulArgs } from '../../registry.js';
import { TensorError } from '../../errors.js';
import { OrtGemm, type OrtGemmOptions } from './ort-gemm.js';

export interface NativeBackendOptions extends OrtGemmOptions {
  /** Decline (fall back down the chain) when 2·M·N·K per matrix is below this. Default 16384. */
  minFlops?: number;
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
  registerKernel({
    kernel: 'matmul',
    backend: 'native',
    fn: (args: MatmulArgs) => gemm.gemm(args),
    supports: (args: MatmulArgs) => 2 * args.m * args.n * args.k >= minFlops,
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
