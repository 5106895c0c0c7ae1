/**
 * `wasm` backend: portable fp32 matmul (plus the AdamW update, the row exponentials of softmax
 * and cross-entropy, attention's masked softmax and its gradient, the RMSNorm backward, SwiGLU, the MoE combine, elementwise binary ops and the
 * sum of squares, the column gather of expert construction: adamw-module.ts, exp-rows-module.ts, rmsnorm-module.ts, rmsnorm-backward-module.ts, swiglu-module.ts,
 * scatter-add-rows-module.ts, binary-module.ts, masked-softmax-module.ts, take-cols-module.ts)
 * in WebAssembly
 * SIMD, no native code, runs in browsers.
 *
 * Design: the module is emitted as bytes at init from TypeScript (wasm-emitter.ts, no wabt or
 * toolchain), specialised for a 4×8 register tile (8 f32x4 accumulators; measured fastest
 * under V8: 5- and 6-row tiles spill on x64's 15 usable xmm registers) with k-blocking (KC=512)
 * so a packed B strip stays in L1 and an M block of packed A in L2. Operands are copied into
 * wasm memory and packed there by SIMD transposes (packing in JS costs 1–4 ns/element, the
 * kernel ~0.03). Threads: a worker pool over one *shared* WebAssembly.Memory, fork-join via
 * Atomics.wait/notify so calls stay synchronous (pool.ts). Where blocking is impossible
 * (browser main thread) or SharedArrayBuffer is absent (no cross-origin isolation) it runs on
 * the calling thread alone. Relaxed-SIMD FMA is used where the engine validates it (Chrome ≥
 * 114); Node 20's V8 needs --experimental-wasm-relaxed-simd, so there it is plain mul+add —
 * on Zen 4 both peak at 16 flop/cycle for 128-bit vectors anyway.
 *
 * Measured on 2 Zen 4 cores (Node 20): ~72 GFLOP/s with 2 threads, ~38 with 1, against
 * ~30 for @tensorflow/tfjs-backend-wasm (XNNPACK, single-threaded in Node) on 1024³ and the
 * expert shapes. Install friction: none (pure TypeScript). On Node the `native` backend
 * (onnxruntime's MLAS, ../native) is ~2–2.5× faster; this is the path for browsers and for
 * platforms without ORT. Known gap: every call copies and packs B, so batch-1 decode (M = 1)
 * is bound by that copy; caching packed weights would need a mutation signal from the caller.
 *
 *   const status = await initWasmBackend({ threads: 2 });
 *   setBackend(['wasm']);
 */
import { registerKernel, unregisterKernel, type AdamwArgs, type AdamwStateArgs, type BinaryArgs, type SumSquaresArgs, type ExpRowsArgs, type MaskedSoftmaxArgs, type MaskedSoftmaxBackwardArgs, type MatmulArgs, type RmsNormArgs, type RmsNormBackwardArgs, type ScatterAddRowsArgs, type ScatterAddRowsBackwardArgs, type SwigluArgs, type SwigluBackwardArgs, type SwigluExpertsArgs, type TakeColsArgs } from '../../registry.js';
import { TensorError } from '../../errors.js';
import { WasmGemm, type WasmGemmOptions } from './wasm-gemm.js';
import { WasmAdamw } from './adamw-module.js';
import { WasmExpRows } from './exp-rows-module.js';
import { WasmMaskedSoftmax } from './masked-softmax-module.js';
import { WasmRmsNorm } from './rmsnorm-module.js';
import { WasmRmsNormBackward } from './rmsnorm-backward-module.js';
import { WasmScatterAddRows } from './scatter-add-rows-module.js';
import { WasmSwiglu } from './swiglu-module.js';
import { WasmBinary } from './binary-module.js';
import { WasmTakeCols as TakeColsModule } from './take-cols-module.js';
import { WasmGemv } from './gemv-module.js';
import { gemvForm } from '../gemv-form.js';
import { weightArenaOf } from './weight-arena.js';

export interface WasmBackendOptions extends WasmGemmOptions {
  /** Decline (fall back down the chain) when 2·M·N·K per matrix is below this. Default 4096. */
  minFlops?: number;
}

export type WasmBackendStatus =
  | { ok: true; backend: 'wasm'; threads: number; detail: string }
  | { ok: false; backend: 'wasm'; reason: string };

let active: WasmGemm | undefined;

/**
 * Compile the SIMD GEMM module, start the worker pool and register the `wasm` matmul kernel.
 * Never rejects: when WebAssembly SIMD is unavailable it resolves `{ ok: false, reason }` and
 * registers nothing. Calling it again replaces the previous instance (and its workers).
 */
export async function initWasmBackend(opts: WasmBackendOptions = {}): Promise<WasmBackendStatus> {
  let gemm: WasmGemm;
  try {
    gemm = await WasmGemm.create(opts);
  } catch (e) {
    return { ok: false, backend: 'wasm', reason: (e as Error).message };
  }
  active?.dispose();
  active = gemm;
  const minFlops = opts.minFlops ?? 4096;
  const gemv = WasmGemv.create();
  registerKernel({
    kernel: 'matmul',
    backend: 'wasm',
    // one output row or column (a decode step's products): the matrix–vector kernel, no packing;
    // in place and on every thread where the matrix lies in a weight arena (pinTensors)
    fn: (args: MatmulArgs) => {
      const f = gemvForm(args);
      if (f && weightArenaOf(f.matrix === 'a' ? args.a : args.b)?.run(args, f)) return;
      if (WasmGemv.supports(args)) gemv.run(args);
      else gemm.gemm(args);
    },
    supports: (args: MatmulArgs) => 2 * args.m * args.n * args.k >= minFlops,
  });
  // AdamW update (elementwise, calling thread): same SIMD requirement as the GEMM, which compiled.
  const adamw = WasmAdamw.create();
  registerKernel({ kernel: 'adamw', backend: 'wasm', fn: (a: AdamwArgs) => adamw.update(a), supports: WasmAdamw.supports });
  registerKernel({ kernel: 'adamwState', backend: 'wasm', fn: (a: AdamwStateArgs) => adamw.allocState(a), supports: WasmAdamw.supportsState });
  const expRows = WasmExpRows.create();
  registerKernel({ kernel: 'expRows', backend: 'wasm', fn: (a: ExpRowsArgs) => expRows.run(a), supports: WasmExpRows.supports });
  const msm = WasmMaskedSoftmax.create();
  registerKernel({ kernel: 'maskedSoftmax', backend: 'wasm', fn: (a: MaskedSoftmaxArgs) => msm.forward(a), supports: WasmMaskedSoftmax.supports });
  registerKernel({ kernel: 'maskedSoftmaxBackward', backend: 'wasm', fn: (a: MaskedSoftmaxBackwardArgs) => msm.backward(a), supports: WasmMaskedSoftmax.supports });
  const rms = WasmRmsNorm.create();
  registerKernel({ kernel: 'rmsnorm', backend: 'wasm', fn: (a: RmsNormArgs) => rms.run(a), supports: WasmRmsNorm.supports });
  const rmsBack = WasmRmsNormBackward.create();
  registerKernel({ kernel: 'rmsnormBackward', backend: 'wasm', fn: (a: RmsNormBackwardArgs) => rmsBack.run(a), supports: WasmRmsNormBackward.supports });
  const scatter = WasmScatterAddRows.create();
  registerKernel({ kernel: 'scatterAddRows', backend: 'wasm', fn: (a: ScatterAddRowsArgs) => scatter.run(a), supports: WasmScatterAddRows.supports });
  const swig = WasmSwiglu.create();
  registerKernel({ kernel: 'swiglu', backend: 'wasm', fn: (a: SwigluArgs) => swig.forward(a) });
  registerKernel({ kernel: 'swigluBackward', backend: 'wasm', fn: (a: SwigluBackwardArgs) => swig.backward(a) });
  registerKernel({ kernel: 'scatterAddRowsBackward', backend: 'wasm', fn: (a: ScatterAddRowsBackwardArgs) => scatter.runBackward(a), supports: WasmScatterAddRows.supportsBackward });
  // A token's experts on pinned weights, read in place by the weight arena they live in (weight-arena.ts).
  registerKernel({ kernel: 'swigluExperts', backend: 'wasm', fn: (a: SwigluExpertsArgs) => { weightArenaOf(a.gates[0]!)!.swigluExperts(a); }, supports: (a: SwigluExpertsArgs) => a.gates.length > 0 && (weightArenaOf(a.gates[0]!)?.takesExperts(a) ?? false) });
  const bin = WasmBinary.create();
  registerKernel({ kernel: 'binary', backend: 'wasm', fn: (a: BinaryArgs) => bin.binary(a), supports: (a: BinaryArgs) => a.out.length >= WasmBinary.MIN_ELEMENTS });
  registerKernel({ kernel: 'sumSquares', backend: 'wasm', fn: (a: SumSquaresArgs) => bin.sumSquares(a), supports: (a: SumSquaresArgs) => a.x.length >= WasmBinary.MIN_ELEMENTS });
  // Column gather (expert construction): plain WebAssembly on the calling thread, bit-identical to cpu.
  const take = TakeColsModule.create();
  registerKernel({ kernel: 'takeCols', backend: 'wasm', fn: (a: TakeColsArgs) => { take.run(a.src, a.rows, a.cols, a.parts, a.outs); } });
  const { info } = gemm;
  const detail = `WebAssembly SIMD 4x8 tile, ${info.threads} thread(s)${info.sharedMemory ? ' on shared memory' : ''}, ${info.relaxedSimd ? 'relaxed-SIMD FMA' : 'mul+add'}${info.note ? `; ${info.note}` : ''}`;
  return { ok: true, backend: 'wasm', threads: info.threads, detail };
}

/** Unregister the `wasm` kernel and stop its workers. */
export function disposeWasmBackend(): void {
  unregisterKernel('matmul', 'wasm');
  unregisterKernel('adamw', 'wasm');
  unregisterKernel('adamwState', 'wasm');
  unregisterKernel('expRows', 'wasm');
  unregisterKernel('maskedSoftmax', 'wasm');
  unregisterKernel('maskedSoftmaxBackward', 'wasm');
  unregisterKernel('rmsnorm', 'wasm');
  unregisterKernel('rmsnormBackward', 'wasm');
  unregisterKernel('scatterAddRows', 'wasm');
  unregisterKernel('scatterAddRowsBackward', 'wasm');
  unregisterKernel('swiglu', 'wasm');
  unregisterKernel('swigluBackward', 'wasm');
  unregisterKernel('swigluExperts', 'wasm');
  unregisterKernel('binary', 'wasm');
  unregisterKernel('sumSquares', 'wasm');
  unregisterKernel('takeCols', 'wasm');
  active?.dispose();
  active = undefined;
}

/** Direct access to the GEMM (bypassing the registry), e.g. for benchmarks. */
export function wasmMatmul(args: MatmulArgs): void {
  if (!active) throw new TensorError('backend', 'wasmMatmul', 'the wasm backend is not initialised; await initWasmBackend() first');
  active.gemm(args);
}

export { WasmGemm, type WasmGemmOptions, type WasmGemmInfo } from './wasm-gemm.js';
export { WasmAdamw, AdamwStateArena } from './adamw-module.js';
export { WasmExpRows } from './exp-rows-module.js';
export { WasmMaskedSoftmax } from './masked-softmax-module.js';
export { WasmRmsNorm } from './rmsnorm-module.js';
export { WasmRmsNormBackward } from './rmsnorm-backward-module.js';
export { WasmScatterAddRows } from './scatter-add-rows-module.js';
export { WasmTakeCols, type ColumnElements } from './take-cols-module.js';
export { WasmSwiglu } from './swiglu-module.js';
export { WasmBinary } from './binary-module.js';
export { WasmGemv } from './gemv-module.js';
export { WeightArena, weightArenaOf, type WeightArenaOptions } from './weight-arena.js';
