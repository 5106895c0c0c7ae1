/**
 * OrtGemm: fp32 GEMM through onnxruntime-node's native binding (MLAS sgemm), called
 * synchronously. The public `InferenceSession.run` is async only because onnxruntime-node wraps
 * the binding's synchronous `run` in `setImmediate`; we load `dist/binding.js` and call it
 * directly. Inputs and the output are ORT tensors that wrap our Float32Arrays (views, no copy);
 * `accumulate` feeds `out` as Gemm's C (beta = 1) into a scratch output, then copies it back
 * (ORT must not alias an input with an output).
 *
 * A cost outside MLAS, measured: onnxruntime-node (1.23 through 1.30) copies every fetched output
 * into a fresh ArrayBuffer after the run, preallocated or not (tensor_helper.cc,
 * `OrtValueToNapiValue`), and we drop that copy. A stories110M-shaped training step fetches
 * ~1.1 GB this way (~2,000 calls); fresh pages cost 0.2–0.6 ms per MB here, and the garbage drives
 * V8's external-memory GCs (see the trainer README on running with V8's concurrent GC off). Splitting tall
 * products along M to keep outputs small was tried and measured no better in a training step.
 */
import { TensorError } from '../../errors.js';
import { isSharedView } from '../wasm/weight-arena.js';
import type { MatmulArgs } from '../../registry.js';
import { batchedMatmulModel, gemmModel } from './onnx-model.js';

/** The slice of onnxruntime-node's native binding we use (see onnxruntime-node/lib/binding.ts). */
interface BindingSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, unknown>, fetches: Record<string, unknown>, options: object): Record<string, unknown>;
  dispose(): void;
}
interface OrtModules {
  binding: { InferenceSession: new () => BindingSession };
  initOrt: () => void;
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;
  version: string;
}

export interface OrtGemmOptions {
  /** intra-op threads; default: available cores. */
  threads?: number;
  /** Let ORT's pool spin between calls (lower latency, burns a core while idle). Default false. */
  spin?: boolean;
}

type NodeRequire = ((id: string) => unknown) & { resolve(id: string): string };

function nodeBuiltin<T>(id: string): T | undefined {
  const proc = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown } }).process;
  if (!proc?.versions?.node || typeof proc.getBuiltinModule !== 'function') return undefined;
  return proc.getBuiltinModule(id) as T;
}

/** Load onnxruntime-node's binding; throws with the reason when it is not usable here. */
export function loadOrt(): OrtModules {
  const mod = nodeBuiltin<{ createRequire(url: string): NodeRequire }>('node:module');
  if (!mod) throw new Error('not running under Node >= 20.16 (process.getBuiltinModule missing)');
  const req = mod.createRequire(import.meta.url);
  let entry: string;
  try {
    entry = req.resolve('onnxruntime-node');
  } catch {
    throw new Error("optional dependency 'onnxruntime-node' is not installed");
  }
  const ortReq = mod.createRequire(entry);
  const { binding, initOrt } = ortReq('./binding.js') as Pick<OrtModules, 'binding' | 'initOrt'>;
  const { Tensor } = ortReq('onnxruntime-common') as Pick<OrtModules, 'Tensor'>;
  const { version } = ortReq('./version.js') as { version: string };
  if (typeof binding?.InferenceSession !== 'function' || typeof initOrt !== 'function' || typeof Tensor !== 'function') {
    throw new Error(`onnxruntime-node ${version} has an unexpected binding layout (expected dist/binding.js exporting binding.InferenceSession and initOrt)`);
  }
  initOrt();
  return { binding, initOrt, Tensor, version };
}

export function availableCores(): number {
  const os = nodeBuiltin<{ availableParallelism?: () => number; cpus(): unknown[] }>('node:os');
  return os ? (os.availableParallelism?.() ?? os.cpus().length) : 1;
}

export class OrtGemm {
  readonly threads: number;
  readonly version: string;
  private readonly ort: OrtModules;
  private readonly sessionOptions: object;
  private readonly sessions = new Map<string, BindingSession>();
  /** [M·N] scratch output for accumulate */
  private scratch = new Float32Array(0);
  /** private copies of A, B and the output when they are views of a SharedArrayBuffer (gemmPrivate) */
  private readonly privateCopies: [Float32Array, Float32Array, Float32Array] = [new Float32Array(0), new Float32Array(0), new Float32Array(0)];

  constructor(opts: OrtGemmOptions = {}) {
    this.ort = loadOrt();
    this.version = this.ort.version;
    this.threads = Math.max(1, Math.floor(opts.threads ?? availableCores()));
    this.sessionOptions = {
      intraOpNumThreads: this.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      extra: { session: { intra_op: { allow_spinning: opts.spin ? '1' : '0' } } },
    };
    // fail now rather than on the first matmul
    this.session(false, false, false);
  }

  private session(transA: boolean, transB: boolean, withC: boolean, batched = false): BindingSession {
    const key = `${+transA}${+transB}${+withC}${+batched}`;
    let s = this.sessions.get(key);
    if (!s) {
      const bytes = batched ? batchedMatmulModel({ transA, transB }) : gemmModel({ transA, transB, withC });
      s = new this.ort.binding.InferenceSession();
      s.loadModel(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, this.sessionOptions);
      this.sessions.set(key, s);
    }
    return s;
  }

  dispose(): void {
    for (const s of this.sessions.values()) s.dispose();
    this.sessions.clear();
  }

  gemm(args: MatmulArgs): void {
    const { batch, m, n, k, transA, transB, aStride, bStride, accumulate, a, b, out } = args;
    if (m === 0 || n === 0 || batch === 0) return;
    if (a.length < (batch - 1) * aStride + m * k || b.length < (batch - 1) * bStride + k * n || out.length < batch * m * n) {
      throw new TensorError('argument', 'matmul', `native backend: operand buffers too short for batch=${batch} m=${m} n=${n} k=${k} aStride=${aStride} bStride=${bStride}`);
    }
    if (k === 0) {
      if (!accumulate) out.fill(0, 0, batch * m * n);
      return;
    }
    if (isSharedView(a) || isSharedView(b) || isSharedView(out)) {
      this.gemmPrivate(args);
      return;
    }
    // a weight shared across a plain batched A is one tall matrix: [batch·M, K]
    if (batch > 1 && bStride === 0 && !transA && aStride === m * k) {
      this.gemm2d(a, 0, b, 0, out, 0, batch * m, n, k, false, transB, accumulate);
      return;
    }
    // a batch of separate products (attention's heads): one batched MLAS call, not `batch` runs
    if (batch > 1 && !accumulate && aStride === m * k && bStride === k * n) {
      const T = this.ort.Tensor;
      const A = new T('float32', a.subarray(0, batch * m * k), transA ? [batch, k, m] : [batch, m, k]);
      const B = new T('float32', b.subarray(0, batch * k * n), transB ? [batch, n, k] : [batch, k, n]);
      this.session(transA, transB, false, true).run({ A, B }, { Y: new T('float32', out.subarray(0, batch * m * n), [batch, m, n]) }, {});
      return;
    }
    for (let i = 0; i < batch; i++) this.gemm2d(a, i * aStride, b, i * bStride, out, i * m * n, m, n, k, transA, transB, accumulate);
  }

  /**
   * onnxruntime-node refuses views of a SharedArrayBuffer (weights pinned in a wasm weight arena):
   * copy the spans the product reads into private buffers (grow-only, reused), run, copy out back.
   */
  private gemmPrivate(args: MatmulArgs): void {
    const { batch, m, n, k, aStride, bStride, accumulate, a, b, out } = args;
    const aLen = (batch - 1) * aStride + m * k, bLen = (batch - 1) * bStride + k * n, oLen = batch * m * n;
    const priv = (src: Float32Array, len: number, slot: 0 | 1 | 2, copy: boolean): Float32Array => {
      if (!isSharedView(src)) return src;
      if (this.privateCopies[slot].length < len) this.privateCopies[slot] = new Float32Array(len);
      const p = this.privateCopies[slot].subarray(0, len);
      if (copy) p.set(src.subarray(0, len));
      return p;
    };
    const o = priv(out, oLen, 2, accumulate);
    this.gemm({ ...args, a: priv(a, aLen, 0, true), b: priv(b, bLen, 1, true), out: o });
    if (o !== out) out.set(o);
  }

  private gemm2d(
    a: Float32Array, aOff: number, b: Float32Array, bOff: number, out: Float32Array, oOff: number,
    m: number, n: number, k: number, transA: boolean, transB: boolean, accumulate: boolean,
  ): void {
    const T = this.ort.Tensor;
    const A = new T('float32', a.subarray(aOff, aOff + m * k), transA ? [k, m] : [m, k]);
    const B = new T('float32', b.subarray(bOff, bOff + k * n), transB ? [n, k] : [k, n]);
    const outView = out.subarray(oOff, oOff + m * n);
    if (!accumulate) {
      this.session(transA, transB, false).run({ A, B }, { Y: new T('float32', outView, [m, n]) }, {});
      return;
    }
    if (this.scratch.length < m * n) this.scratch = new Float32Array(m * n);
    const y = this.scratch.subarray(0, m * n);
    this.session(transA, transB, true).run({ A, B, C: new T('float32', outView, [m, n]) }, { Y: new T('float32', y, [m, n]) }, {});
    outView.set(y);
  }
}
