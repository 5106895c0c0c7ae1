/**
 * A synchronous fork-join pool over one shared WebAssembly.Memory. Every thread (the caller is
 * thread 0) instantiates the same module on the same memory; a job is, per thread, a list of
 * calls `exports[fn](...i32 args)` written into a shared Int32Array control block. The caller
 * bumps a sequence word, runs its own share, then blocks in `Atomics.wait` until the pending
 * count drops to zero, so `run()` returns with all results in memory: the kernel registry's
 * synchronous contract holds. Workers are `worker_threads` in Node (eval'd source, unref'd so they
 * never keep the process alive) and blob-URL `Worker`s in browsers (cross-origin isolated only).
 */

/** Control block word indices. */
const SEQ = 0;
const PENDING = 1;
const CMD = 2;
const READY = 3;
const ERR = 4;
const SLOT_BASE = 16;
/** Int32 words per thread slot: [ncalls, (fn, nargs, ...args)*]. */
const SLOT_WORDS = 128;
const CMD_RUN = 1;
const CMD_EXIT = 2;

export interface PoolCall {
  fn: number;
  args: readonly number[];
}

/**
 * Worker body as plain JavaScript source (not Function#toString of compiled code, which
 * coverage instrumentation or minifiers would rewrite). Spins briefly before sleeping so
 * back-to-back dispatches (pack phase, then compute phase) skip the futex wake-up.
 */
const WORKER_SOURCE = `
function workerMain(d) {
  const inst = new WebAssembly.Instance(d.module, { env: { memory: d.memory } });
  const fns = d.exports.map((n) => inst.exports[n]);
  const ctl = new Int32Array(d.control);
  const slot = ${SLOT_BASE} + d.index * ${SLOT_WORDS};
  Atomics.add(ctl, ${READY}, 1);
  Atomics.notify(ctl, ${READY});
  let seen = 0;
  for (;;) {
    for (let spin = 0; spin < d.spin && Atomics.load(ctl, ${SEQ}) === seen; spin++);
    Atomics.wait(ctl, ${SEQ}, seen);
    seen = Atomics.load(ctl, ${SEQ});
    if (Atomics.load(ctl, ${CMD}) === ${CMD_EXIT}) return;
    try {
      let p = slot;
      const ncalls = ctl[p++];
      for (let c = 0; c < ncalls; c++) {
        const fn = ctl[p++];
        const nargs = ctl[p++];
        const args = [];
        for (let i = 0; i < nargs; i++) args.push(ctl[p++]);
        fns[fn](...args);
      }
    } catch (e) {
      Atomics.store(ctl, ${ERR}, 1);
    }
    if (Atomics.sub(ctl, ${PENDING}, 1) === 1) Atomics.notify(ctl, ${PENDING});
  }
}
`;

interface WorkerLike {
  terminate(): unknown;
}

export interface PoolInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  exportNames: readonly string[];
  /** Total threads including the caller. */
  threads: number;
  /** Give up on workers that are not ready after this long. */
  startTimeoutMs?: number;
  /**
   * Polls of the sequence word a worker makes before it sleeps in Atomics.wait (default 20000,
   * some tens of µs). A sleeping worker takes a futex wake-up (tens to hundreds of µs on a VM) to
   * start its share; callers whose jobs come with gaps longer than the default spin raise it.
   */
  spin?: number;
  /** Polls of the pending count the caller makes before it sleeps until the workers are done (default 200000). */
  waitSpin?: number;
}

type NodeWorkerCtor = new (src: string, opts: { eval: true; workerData: unknown }) => WorkerLike & { unref(): void; on(ev: string, cb: (e: unknown) => void): void };

function nodeWorkerThreads(): { Worker: NodeWorkerCtor } | undefined {
  const proc = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown } }).process;
  if (!proc?.versions?.node || typeof proc.getBuiltinModule !== 'function') return undefined;
  return proc.getBuiltinModule('node:worker_threads') as { Worker: NodeWorkerCtor };
}

/** True when this thread may block in Atomics.wait (Node main thread, any worker; not a browser main thread). */
export function canBlock(): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

export class ThreadPool {
  readonly threads: number;
  private readonly ctl: Int32Array;
  private readonly workers: WorkerLike[];
  private seq = 0;
  /** Polls of the pending count before the caller sleeps. */
  private readonly waitSpin: number;

  private constructor(threads: number, ctl: Int32Array, workers: WorkerLike[], waitSpin = 200_000) {
    this.threads = threads;
    this.waitSpin = waitSpin;
    this.ctl = ctl;
    this.workers = workers;
  }

  /** Start `threads - 1` workers; resolves with a pool of however many came up (≥ 1). */
  static async start(init: PoolInit): Promise<ThreadPool> {
    const control = new SharedArrayBuffer((SLOT_BASE + SLOT_WORDS * Math.max(init.threads, 1)) * 4);
    const ctl = new Int32Array(control);
    const want = init.threads - 1;
    const workers: WorkerLike[] = [];
    if (want <= 0) return new ThreadPool(1, ctl, workers);
    const src = WORKER_SOURCE;
    const node = nodeWorkerThreads();
    let failed = false;
    for (let i = 1; i <= want; i++) {
      const data = { module: init.module, memory: init.memory, control, index: i, exports: [...init.exportNames], spin: init.spin ?? 20000 };
      if (node) {
        const w = new node.Worker(`${src}workerMain(require('node:worker_threads').workerData);`, { eval: true, workerData: data });
        w.on('error', () => { failed = true; });
        w.unref();
        workers.push(w);
      } else {
        const blob = new Blob([`${src}self.onmessage = (e) => workerMain(e.data);`], { type: 'text/javascript' });
        const w = new Worker(URL.createObjectURL(blob));
        w.onerror = () => { failed = true; };
        w.postMessage(data);
        workers.push(w);
      }
    }
    const deadline = Date.now() + (init.startTimeoutMs ?? 10_000);
    while (Atomics.load(ctl, READY) < want && !failed && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 2));
    }
    if (Atomics.load(ctl, READY) < want) {
      for (const w of workers) w.terminate();
      return new ThreadPool(1, new Int32Array(new SharedArrayBuffer((SLOT_BASE + SLOT_WORDS) * 4)), []);
    }
    return new ThreadPool(init.threads, ctl, workers, init.waitSpin);
  }

  /**
   * Run `jobs[t]` on thread t (jobs[0] on the caller, through `local`) and return when all are
   * done. Every worker is woken and counts down, those without a job after doing nothing.
   */
  run(jobs: readonly (readonly PoolCall[])[], local: readonly ((...a: number[]) => void)[]): void {
    const ctl = this.ctl;
    const remote = Math.min(jobs.length, this.threads) - 1;
    if (remote > 0) {
      for (let t = 1; t < this.threads; t++) {
        let p = SLOT_BASE + t * SLOT_WORDS;
        const calls = jobs[t] ?? [];
        ctl[p++] = calls.length;
        for (const c of calls) {
          if (p + 2 + c.args.length > SLOT_BASE + (t + 1) * SLOT_WORDS) throw new RangeError('wasm pool: job too large for its control slot');
          ctl[p++] = c.fn;
          ctl[p++] = c.args.length;
          for (const a of c.args) ctl[p++] = a;
        }
      }
      Atomics.store(ctl, CMD, CMD_RUN);
      Atomics.store(ctl, ERR, 0);
      Atomics.store(ctl, PENDING, this.threads - 1);
      this.seq = (this.seq + 1) | 0;
      Atomics.store(ctl, SEQ, this.seq);
      Atomics.notify(ctl, SEQ);
    }
    let localError: unknown;
    try {
      for (const c of jobs[0] ?? []) local[c.fn]!(...c.args);
    } catch (e) {
      localError = e;
    }
    if (remote > 0) {
      // poll before sleeping: the workers usually finish within µs of the caller, and a futex
      // wake-up of the caller costs tens to hundreds of µs on a VM
      for (let spin = 0; spin < this.waitSpin && Atomics.load(ctl, PENDING) !== 0; spin++);
      for (let v = Atomics.load(ctl, PENDING); v !== 0; v = Atomics.load(ctl, PENDING)) Atomics.wait(ctl, PENDING, v);
    }
    if (localError !== undefined) throw localError;
    if (remote > 0 && Atomics.load(ctl, ERR) !== 0) throw new Error('wasm pool: a worker trapped while running its share (out-of-bounds memory access?)');
  }

  /** Stop the workers (idempotent). */
  dispose(): void {
    if (this.workers.length === 0) return;
    Atomics.store(this.ctl, CMD, CMD_EXIT);
    this.seq = (this.seq + 1) | 0;
    Atomics.store(this.ctl, SEQ, this.seq);
    Atomics.notify(this.ctl, SEQ);
    for (const w of this.workers) w.terminate();
    this.workers.length = 0;
  }
}
