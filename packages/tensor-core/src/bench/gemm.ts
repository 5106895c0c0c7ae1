/**
 * fp32 GEMM benchmark: our backends against peers timed in the same run on the same machine.
 *   native (onnxruntime MLAS) ↔ numpy float32 `@` (python3, BLAS threads = cores)
 *   wasm-simd (pool, 1 thread) ↔ @tensorflow/tfjs-backend-wasm (XNNPACK; single-threaded in
 *                                  Node, whose threaded build needs browser Workers)
 *   cpu (plain TypeScript)       ↔ none
 * Every row is GFLOP/s = 2·M·N·K / best wall time, over C = A[M,K]·B[K,N] (row-major, no
 * transposes: the layout numpy and tfjs use), including our copies in and out of wasm memory.
 * Each of our results is spot-checked against float64 dot products. Node-only (spawns python3);
 * no top-level Node imports so importing the module elsewhere stays harmless.
 */
import type { MatmulArgs } from '../registry.js';
import { matmulCpu } from '../backends/cpu/index.js';
import { OrtGemm } from '../backends/native/ort-gemm.js';
import { WasmGemm } from '../backends/wasm/wasm-gemm.js';
import { randomF32 } from './gemm-reference.js';

export interface BenchRow {
  name: string;
  ours: number;
  peer: number | null;
  unit: string;
  ratio: number | null;
  note?: string;
}

export interface BenchGemmOptions {
  /** Skip the 2048×4096×11008 FFN shape and the 1024³ plain-TS row; fewer repetitions. */
  quick?: boolean;
  /** Threads for every engine (ours, numpy's BLAS); default: available cores. */
  threads?: number;
  /** Print each row as it is measured. Default false. */
  log?: (line: string) => void;
}

interface Shape {
  label: string;
  m: number;
  k: number;
  n: number;
}

const SHAPES: Shape[] = [
  { label: '1024x1024x1024', m: 1024, k: 1024, n: 1024 },
  { label: 'expert up 512x4096->688', m: 512, k: 4096, n: 688 },
  { label: 'expert down 512x688->4096', m: 512, k: 688, n: 4096 },
  { label: 'ffn 2048x4096->11008', m: 2048, k: 4096, n: 11008 },
];

type NodeRequire = ((id: string) => unknown) & { resolve(id: string): string };
function builtin<T>(id: string): T {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (!proc?.getBuiltinModule) throw new Error('benchGemm needs Node >= 20.16');
  return proc.getBuiltinModule(id) as T;
}

/**
 * Measures how much CPU *other* processes took while a block of the benchmark ran: machine busy
 * time from /proc/stat minus this process's (all threads) and the numpy child's CPU time, as a
 * share of wall time × cores. On a shared machine the rows are only comparable when it is small,
 * so it goes into the notes. Linux only; elsewhere it reports nothing.
 */
class ForeignLoad {
  private readonly fs = builtin<typeof import('node:fs')>('node:fs');
  private start: { busy: number; own: number; child: number; wall: number } | undefined;

  constructor(private readonly cores: number, private readonly childPid: () => number | undefined) {}

  private sample(): { busy: number; own: number; child: number; wall: number } | undefined {
    try {
      // USER_HZ is 100 on Linux: jiffies → seconds
      const f = this.fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
      const busy = (f.reduce((x, y) => x + y, 0) - f[3]! - f[4]!) / 100;
      const u = process.cpuUsage();
      const pid = this.childPid();
      let child = 0;
      if (pid !== undefined) {
        const st = this.fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = st.slice(st.lastIndexOf(')') + 2).split(' ');
        child = (Number(fields[11]) + Number(fields[12])) / 100;
      }
      return { busy, own: (u.user + u.system) / 1e6, child, wall: performance.now() / 1000 };
    } catch {
      return undefined;
    }
  }

  begin(): void {
    this.start = this.sample();
  }

  /** Share of the machine other processes used since `begin()`, or undefined. */
  end(): number | undefined {
    const a = this.start;
    const b = this.sample();
    if (!a || !b || b.wall - a.wall <= 0) return undefined;
    const foreign = b.busy - a.busy - (b.own - a.own) - (b.child - a.child);
    return Math.max(0, foreign / ((b.wall - a.wall) * this.cores));
  }
}

const gflops = (s: Shape, ms: number) => (2 * s.m * s.n * s.k) / (ms * 1e6);

/** Best wall time in ms of `reps` runs, after one untimed warm-up run when `warmup`. */
function best(fn: () => void, reps: number, warmup = true): number {
  if (warmup) fn();
  let t = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    fn();
    t = Math.min(t, performance.now() - t0);
  }
  return t;
}

/** Compare 16 random outputs with float64 dot products; returns a note on failure. */
function spotCheck(s: Shape, a: Float32Array, b: Float32Array, out: Float32Array): string | undefined {
  for (let t = 0; t < 16; t++) {
    const i = (t * 7919) % s.m;
    const j = (t * 104729) % s.n;
    let ref = 0;
    let abs = 0;
    for (let p = 0; p < s.k; p++) {
      ref += a[i * s.k + p]! * b[p * s.n + j]!;
      abs += Math.abs(a[i * s.k + p]! * b[p * s.n + j]!);
    }
    if (!(Math.abs(out[i * s.n + j]! - ref) <= (s.k + 2) * 2 ** -23 * abs)) return `WRONG RESULT at [${i}, ${j}]: ${out[i * s.n + j]} vs ${ref}`;
  }
  return undefined;
}

/**
 * numpy float32 `a @ b` in a persistent python3 process (BLAS threads pinned), so its timings
 * can be interleaved with ours round by round: on a shared machine a neighbour's load then hits
 * both sides alike. One JSON request per line: {m, k, n, reps} → best seconds, or null.
 */
class NumpyPeer {
  private readonly child: import('node:child_process').ChildProcessWithoutNullStreams;
  private readonly waiting: ((line: string | null) => void)[] = [];
  private buffered = '';
  private dead: string | undefined;
  private stderr = '';

  constructor(threads: number) {
    const { spawn } = builtin<typeof import('node:child_process')>('node:child_process');
    const script = [
      'import json, sys, time',
      'import numpy as np',
      'rng = np.random.default_rng(0); cur = None',
      'for line in sys.stdin:',
      '    q = json.loads(line); key = (q["m"], q["k"], q["n"])',
      '    if cur is None or cur[0] != key:',
      '        cur = (key, rng.random((key[0], key[1]), dtype=np.float32), rng.random((key[1], key[2]), dtype=np.float32))',
      '        cur[1] @ cur[2]',
      '    best = float("inf")',
      '    for _ in range(q["reps"]):',
      '        t0 = time.perf_counter(); cur[1] @ cur[2]; best = min(best, time.perf_counter() - t0)',
      '    print(json.dumps(best), flush=True)',
    ].join('\n');
    const env = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
    this.child = spawn('python3', ['-u', '-c', script], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      this.buffered += chunk;
      for (let nl = this.buffered.indexOf('\n'); nl >= 0; nl = this.buffered.indexOf('\n')) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        this.waiting.shift()?.(line);
      }
    });
    this.child.stderr.on('data', (chunk: string) => { this.stderr += chunk; });
    const fail = (why: string) => {
      this.dead ??= why;
      for (const w of this.waiting.splice(0)) w(null);
    };
    this.child.on('error', (e) => fail(e.message));
    this.child.on('exit', () => fail(this.stderr.trim().split('\n').pop() || 'python3 exited'));
  }

  get pid(): number | undefined {
    return this.dead === undefined ? this.child.pid : undefined;
  }

  /** Why numpy is unavailable, once a request has failed. */
  get note(): string | undefined {
    return this.dead === undefined ? undefined : `numpy unavailable: ${this.dead}`;
  }

  /** Best seconds of `reps` timed `a @ b` (after a warm-up on a new shape), or null. */
  async time(s: Shape, reps: number): Promise<number | null> {
    if (this.dead !== undefined) return null;
    const line = await new Promise<string | null>((resolve) => {
      this.waiting.push(resolve);
      this.child.stdin.write(`${JSON.stringify({ m: s.m, k: s.k, n: s.n, reps })}\n`);
    });
    return line === null ? null : (JSON.parse(line) as number) * 1000;
  }

  close(): void {
    this.child.stdin.end();
    this.child.kill();
  }
}

interface TfjsLike {
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  tensor2d(values: Float32Array, shape: [number, number], dtype: 'float32'): { dispose(): void };
  matMul(a: unknown, b: unknown): { dataSync(): Float32Array; dispose(): void };
}

/** @tensorflow/tfjs-backend-wasm from the workspace root (a devDependency there), or a reason. */
async function loadTfjsWasm(): Promise<{ tf: TfjsLike; threads: number } | string> {
  try {
    const { createRequire } = builtin<{ createRequire(url: string): NodeRequire }>('node:module');
    const path = builtin<typeof import('node:path')>('node:path');
    const req = createRequire(import.meta.url);
    const tf = req('@tensorflow/tfjs-core') as TfjsLike;
    const wasm = req('@tensorflow/tfjs-backend-wasm') as { setWasmPaths(p: string): void; getThreadsCount?(): number };
    wasm.setWasmPaths(`${path.dirname(req.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'))}/`);
    if (!(await tf.setBackend('wasm'))) return 'tfjs-backend-wasm failed to initialise';
    await tf.ready();
    return { tf, threads: wasm.getThreadsCount?.() ?? 1 };
  } catch (e) {
    return `tfjs-backend-wasm unavailable: ${(e as Error).message.split('\n')[0]}`;
  }
}

/**
 * Measure GFLOP/s of our matmul backends and their peers on the 1024³, expert and FFN shapes.
 * Full run ≈ 45 s on 2 cores (the FFN shape dominates); `quick` ≈ 8 s.
 */
export async function benchGemm(opts: BenchGemmOptions = {}): Promise<BenchRow[]> {
  const quick = opts.quick ?? false;
  const os = builtin<{ availableParallelism(): number }>('node:os');
  const threads = opts.threads ?? os.availableParallelism();
  const shapes = quick ? SHAPES.slice(0, 3) : SHAPES;
  // the FFN shape (185 GFLOP) gets no warm-up and 2 timed runs (1 for tfjs at ~9 s each)
  const heavy = (s: Shape) => s.m * s.n * s.k > 4e9;
  const reps = (s: Shape) => (heavy(s) ? 2 : quick ? 3 : 5);
  const rows: BenchRow[] = [];
  let busy: string | undefined;
  const push = (row: BenchRow) => {
    if (busy) row.note = row.note ? `${row.note}; ${busy}` : busy;
    rows.push(row);
    opts.log?.(`${row.name}: ${row.ours.toFixed(1)} ${row.unit}${row.peer !== null ? ` vs ${row.peer.toFixed(1)} (x${row.ratio!.toFixed(2)})` : ''}${row.note ? `  [${row.note}]` : ''}`);
  };

  let native: OrtGemm | string;
  try {
    native = new OrtGemm({ threads });
  } catch (e) {
    native = `onnxruntime-node unavailable: ${(e as Error).message}`;
  }
  const pool = await WasmGemm.create({ threads });
  const single = await WasmGemm.create({ threads: 1 });
  const tfjs = await loadTfjsWasm();
  const numpy = new NumpyPeer(threads);
  const foreign = new ForeignLoad(os.availableParallelism(), () => numpy.pid);

  try {
    for (const s of shapes) {
      /** [M, K] */
      const a = randomF32(s.m * s.k, 1);
      /** [K, N] */
      const b = randomF32(s.k * s.n, 2);
      /** [M, N] */
      const out = new Float32Array(s.m * s.n);
      const args: MatmulArgs = { a, b, out, batch: 1, m: s.m, n: s.n, k: s.k, transA: false, transB: false, aStride: 0, bStride: 0, accumulate: false };
      const tfA = typeof tfjs === 'string' ? undefined : tfjs.tf.tensor2d(a, [s.m, s.k], 'float32');
      const tfB = typeof tfjs === 'string' ? undefined : tfjs.tf.tensor2d(b, [s.k, s.n], 'float32');
      const tfRun = () => {
        if (typeof tfjs === 'string') return;
        const c = tfjs.tf.matMul(tfA, tfB);
        c.dataSync();
        c.dispose();
      };
      const ortRun = typeof native === 'string' ? undefined : native;
      // best time (ms) per engine over interleaved rounds; the FFN shape (185 GFLOP) gets two
      // rounds of one run and a single tfjs run (~9 s), the others warm up and take more rounds
      const t = { native: Infinity, numpy: Infinity, pool: Infinity, single: Infinity, tfjs: Infinity };
      const checks: Record<string, string | undefined> = {};
      const rounds = heavy(s) ? 2 : quick ? 2 : 3;
      foreign.begin();
      const per = heavy(s) ? 1 : 2;
      for (let r = 0; r < rounds; r++) {
        const warm = r === 0 && !heavy(s);
        if (ortRun) {
          out.fill(0);
          t.native = Math.min(t.native, best(() => ortRun.gemm(args), per, warm));
          if (r === 0) checks.native = spotCheck(s, a, b, out);
        }
        t.numpy = Math.min(t.numpy, (await numpy.time(s, per)) ?? Infinity);
        // OpenBLAS workers busy-wait for a while after each call; let them go idle before timing ours
        await new Promise((r) => setTimeout(r, 300));
        out.fill(0);
        t.pool = Math.min(t.pool, best(() => pool.gemm(args), per, warm));
        if (r === 0) checks.pool = spotCheck(s, a, b, out);
        if (typeof tfjs !== 'string' && (!heavy(s) || r === 0)) t.tfjs = Math.min(t.tfjs, best(tfRun, heavy(s) ? 1 : per, warm));
        if (!heavy(s)) {
          out.fill(0);
          t.single = Math.min(t.single, best(() => single.gemm(args), per, warm));
          if (r === 0) checks.single = spotCheck(s, a, b, out);
        }
      }
      tfA?.dispose();
      tfB?.dispose();
      const load = foreign.end();
      busy = load !== undefined && load > 0.05 ? `machine busy: other processes took ${(load * 100).toFixed(0)}% of the CPU while this shape ran` : undefined;
      const g = (ms: number) => (Number.isFinite(ms) ? gflops(s, ms) : null);
      const row = (name: string, ours: number | null, peer: number | null, note?: string) => push({
        name, ours: ours ?? 0, peer, unit: 'GFLOP/s', ratio: ours !== null && peer !== null ? ours / peer : null, ...(note ? { note } : {}),
      });
      const tfNote = typeof tfjs === 'string' ? tfjs : `tfjs-backend-wasm ${tfjs.threads} thread(s) in Node`;
      row(`matmul ${s.label} native (onnxruntime MLAS, ${threads}T) vs numpy`, g(t.native), g(t.numpy),
        typeof native === 'string' ? native : checks.native ?? numpy.note);
      row(`matmul ${s.label} wasm-simd (${pool.info.threads}T) vs tfjs-wasm`, g(t.pool), g(t.tfjs), checks.pool ?? tfNote);
      if (!heavy(s)) row(`matmul ${s.label} wasm-simd (1T) vs tfjs-wasm`, g(t.single), g(t.tfjs), checks.single ?? tfNote);
      if (!quick && s === SHAPES[0]) {
        out.fill(0);
        const ms = best(() => matmulCpu(args), 1, false);
        row(`matmul ${s.label} cpu (plain TypeScript)`, gflops(s, ms), null, spotCheck(s, a, b, out) ?? 'single run');
      }
    }
  } finally {
    numpy.close();
    if (typeof native !== 'string') native.dispose();
    pool.dispose();
    single.dispose();
  }
  return rows;
}

/**
 * Main-memory copy bandwidth: GB/s of `Float32Array#set` between two 256 MiB arrays (bytes
 * copied / time, best of 5). Bounds memory-bound work such as batch-1 decode.
 */
export function benchCopyBandwidth(bytes = 256 * 2 ** 20): BenchRow {
  const n = bytes / 4;
  /** [n] */
  const src = randomF32(n, 3);
  /** [n] */
  const dst = new Float32Array(n);
  const ms = best(() => dst.set(src), 5);
  return { name: `copy bandwidth (Float32Array#set, ${(bytes / 2 ** 20).toFixed(0)} MiB)`, ours: bytes / (ms * 1e6), peer: null, unit: 'GB/s', ratio: null };
}
