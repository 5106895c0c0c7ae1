/**
 * Indexed binary max-heap over vertex ids 0..capacity-1 with float64 keys, stored in typed arrays
 * so FM refinement moves thousands of vertices without allocating. Equal keys pop the lower id
 * first, which makes every caller's result independent of insertion order.
 */
export class IndexedMaxHeap {
  /** [capacity] key of each id (valid while the id is in the heap) */
  readonly key: Float64Array;
  /** [capacity] heap order of ids, first `size` entries used */
  private readonly heap: Int32Array;
  /** [capacity] position of each id in `heap`, -1 when absent */
  private readonly pos: Int32Array;
  size = 0;

  constructor(capacity: number) {
    this.key = new Float64Array(capacity);
    this.heap = new Int32Array(capacity);
    this.pos = new Int32Array(capacity).fill(-1);
  }

  clear(): void {
    for (let i = 0; i < this.size; i++) this.pos[this.heap[i]!] = -1;
    this.size = 0;
  }

  has(v: number): boolean {
    return this.pos[v]! >= 0;
  }

  /** Id with the largest key, or -1 when empty. */
  top(): number {
    return this.size > 0 ? this.heap[0]! : -1;
  }

  push(v: number, key: number): void {
    this.key[v] = key;
    const i = this.size++;
    this.heap[i] = v;
    this.pos[v] = i;
    this.up(i);
  }

  /** Change the key of an id already in the heap. */
  update(v: number, key: number): void {
    const old = this.key[v]!;
    this.key[v] = key;
    const i = this.pos[v]!;
    if (key > old) this.up(i);
    else this.down(i);
  }

  remove(v: number): void {
    const i = this.pos[v]!;
    if (i < 0) return;
    const last = this.heap[--this.size]!;
    this.pos[v] = -1;
    if (i === this.size) return;
    this.heap[i] = last;
    this.pos[last] = i;
    this.up(i);
    this.down(this.pos[last]!);
  }

  pop(): number {
    const v = this.top();
    if (v >= 0) this.remove(v);
    return v;
  }

  /** (ka, a) comes before (kb, b): larger key, then lower id. */
  private before(ka: number, a: number, kb: number, b: number): boolean {
    return ka > kb || (ka === kb && a < b);
  }

  private up(i: number): void {
    const h = this.heap;
    const v = h[i]!;
    const k = this.key[v]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const u = h[p]!;
      if (!this.before(k, v, this.key[u]!, u)) break;
      h[i] = u;
      this.pos[u] = i;
      i = p;
    }
    h[i] = v;
    this.pos[v] = i;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = this.size;
    const v = h[i]!;
    const k = this.key[v]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && this.before(this.key[h[r]!]!, h[r]!, this.key[h[l]!]!, h[l]!)) c = r;
      const u = h[c]!;
      if (!this.before(this.key[u]!, u, k, v)) break;
      h[i] = u;
      this.pos[u] = i;
      i = c;
    }
    h[i] = v;
    this.pos[v] = i;
  }
}
