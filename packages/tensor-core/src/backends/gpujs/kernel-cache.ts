/**
 * LRU of compiled gpu.js kernels keyed by (kernel, shape, flags). gpu.js bakes every dimension
 * into the compiled module, so each shape is its own kernel; compiling costs milliseconds to
 * tens of milliseconds, running a cached one does not. Each webasm kernel also pins its own
 * WebAssembly.Memory (inputs + output), which the JS heap does not account for, so the cache is
 * bounded both by entry count and by an estimate of those bytes; evicted kernels are destroyed.
 */

/** The part of a gpu.js kernel run shortcut this backend touches. */
export interface GpujsKernelFn {
  (...args: unknown[]): unknown;
  /** The Kernel instance actually executing (replaced by gpu.js on a fallback to cpu). */
  kernel: { constructor: { mode?: string }; fallbackReason?: string | null; _lastRunPath?: string | null };
  destroy(removeCanvasReferences?: boolean): void;
}

export interface KernelCacheStats {
  entries: number;
  bytes: number;
  compiled: number;
  evicted: number;
  hits: number;
}

interface Entry {
  fn: GpujsKernelFn;
  bytes: number;
}

export class KernelCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  private compiled = 0;
  private evicted = 0;
  private hits = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {}

  /** The cached kernel for `key`, or the one `create()` builds (charged `bytes` against the budget). */
  get(key: string, bytes: number, create: () => GpujsKernelFn): GpujsKernelFn {
    const hit = this.entries.get(key);
    if (hit) {
      // Map iteration order is insertion order: re-inserting marks it most recently used
      this.entries.delete(key);
      this.entries.set(key, hit);
      this.hits++;
      return hit.fn;
    }
    const fn = create();
    this.compiled++;
    this.entries.set(key, { fn, bytes });
    this.bytes += bytes;
    this.evict(key);
    return fn;
  }

  /** Drop least recently used entries until both bounds hold, never the one just added. */
  private evict(keep: string): void {
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes) return;
      if (key === keep) continue;
      this.entries.delete(key);
      this.bytes -= entry.bytes;
      this.evicted++;
      entry.fn.destroy();
    }
  }

  stats(): KernelCacheStats {
    return { entries: this.entries.size, bytes: this.bytes, compiled: this.compiled, evicted: this.evicted, hits: this.hits };
  }

  clear(): void {
    for (const entry of this.entries.values()) entry.fn.destroy();
    this.entries.clear();
    this.bytes = 0;
  }
}
