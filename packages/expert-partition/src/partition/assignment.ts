/**
 * Balanced (capacity-constrained) assignment: n points, k clusters, cluster j takes exactly
 * `capacities[j]` points (Σ = n), minimising Σ cost[i, label[i]]. This is the assignment step of
 * balanced k-means; the reference (k_means_constrained) solves it as a min-cost flow.
 *
 * We solve the same transportation problem with Bertsekas' forward auction algorithm with
 * ε-scaling, treating cluster j as `capacities[j]` identical slots: an unassigned point bids for
 * the cheapest slot of its best cluster, raising that slot's price by (second-best − best + ε);
 * a displaced owner bids again. Each cluster keeps its slot prices in a min-heap, so a bid costs
 * O(k + log capacity) and the state is a handful of typed arrays (no per-point objects). At
 * termination every point is within ε of its best choice (ε-complementary slackness), so the
 * total cost is within n·ε of the optimum; ε is scaled down by `scaling` per phase, keeping the
 * prices, until `epsilonFinal` (default 1e-7 × cost range). Deterministic: no randomness at all.
 */
import { PartitionError } from './errors.js';

export interface BalancedAssignOptions {
  /** Final ε of the auction; the result is within n·ε of the optimal total cost. */
  epsilonFinal?: number;
  /** ε divisor between phases (default 8). */
  scaling?: number;
}

export interface BalancedAssignResult {
  /** [n] cluster of each point; cluster j appears exactly capacities[j] times. */
  labels: Int32Array;
  /** Σ cost[i, labels[i]] */
  cost: number;
  /** Number of bids placed (for diagnostics/benchmarks). */
  bids: number;
}

/** cost: [n, k] row-major. */
export function balancedAssign(cost: Float64Array | Float32Array, n: number, k: number, capacities: readonly number[], opts: BalancedAssignOptions = {}): BalancedAssignResult {
  const op = 'balancedAssign';
  if (cost.length !== n * k) throw new PartitionError(op, `cost must have n·k = ${n}·${k} elements [n, k], got ${cost.length}`);
  if (capacities.length !== k) throw new PartitionError(op, `capacities has ${capacities.length} entries for ${k} clusters`);
  let total = 0;
  for (const c of capacities) {
    if (!Number.isInteger(c) || c < 0) throw new PartitionError(op, `capacities must be non-negative integers, got ${c}`);
    total += c;
  }
  if (total !== n) throw new PartitionError(op, `capacities sum to ${total} but there are ${n} points`);
  let lo = Infinity;
  let hi = -Infinity;
  for (let t = 0; t < cost.length; t++) {
    const c = cost[t]!;
    if (!Number.isFinite(c)) throw new PartitionError(op, `cost[${Math.floor(t / k)}, ${t % k}] is ${c}; costs must be finite`);
    if (c < lo) lo = c;
    if (c > hi) hi = c;
  }
  const labels = new Int32Array(n);
  if (n === 0) return { labels, cost: 0, bids: 0 };

  /** [k + 1] first slot of each cluster; cluster j owns slots [start[j], start[j+1]) */
  const start = new Int32Array(k + 1);
  for (let j = 0; j < k; j++) start[j + 1] = start[j]! + capacities[j]!;
  /** [n] cluster of each slot */
  const clusterOfSlot = new Int32Array(n);
  for (let j = 0; j < k; j++) clusterOfSlot.fill(j, start[j]!, start[j + 1]!);
  /** [n] per-cluster min-heaps of slot ids keyed by price, stored in each cluster's slot range */
  const heap = new Int32Array(n);
  for (let s = 0; s < n; s++) heap[s] = s;
  /** [n] slot prices, kept across ε phases */
  const price = new Float64Array(n);
  /** [n] point holding each slot, -1 when free */
  const owner = new Int32Array(n);
  /** [n] FIFO of unassigned points (each point is queued at most once at a time) */
  const queue = new Int32Array(n);

  const range = Math.max(hi - lo, 1e-12);
  const epsFinal = opts.epsilonFinal ?? range * 1e-7;
  const scaling = Math.max(opts.scaling ?? 8, 1.5);
  let eps = Math.max(range / 4, epsFinal);
  let bids = 0;

  const siftDown = (base: number, size: number): void => {
    let pos = 0;
    const s = heap[base]!;
    const p = price[s]!;
    for (;;) {
      const l = 2 * pos + 1;
      if (l >= size) break;
      const r = l + 1;
      const m = r < size && price[heap[base + r]!]! < price[heap[base + l]!]! ? r : l;
      if (price[heap[base + m]!]! < p) {
        heap[base + pos] = heap[base + m]!;
        pos = m;
      } else break;
    }
    heap[base + pos] = s;
  };

  for (;;) {
    owner.fill(-1);
    for (let i = 0; i < n; i++) queue[i] = i;
    let head = 0;
    let count = n;
    while (count > 0) {
      const i = queue[head]!;
      head = head + 1 === n ? 0 : head + 1;
      count--;
      const row = i * k;
      let best = Infinity;
      let second = Infinity;
      let bj = -1;
      for (let j = 0; j < k; j++) {
        const b = start[j]!;
        if (start[j + 1] === b) continue;
        const v = cost[row + j]! + price[heap[b]!]!;
        if (v < best) {
          second = best;
          best = v;
          bj = j;
        } else if (v < second) second = v;
      }
      const base = start[bj]!;
      const size = start[bj + 1]! - base;
      // The second-cheapest slot of the same cluster is also an alternative for this point.
      if (size >= 2) {
        let m2 = price[heap[base + 1]!]!;
        if (size >= 3 && price[heap[base + 2]!]! < m2) m2 = price[heap[base + 2]!]!;
        const v2 = cost[row + bj]! + m2;
        if (v2 < second) second = v2;
      }
      if (second === Infinity) second = best;
      const slot = heap[base]!;
      price[slot] = price[slot]! + (second - best) + eps;
      const prev = owner[slot]!;
      owner[slot] = i;
      siftDown(base, size);
      bids++;
      if (prev >= 0) {
        let tail = head + count;
        if (tail >= n) tail -= n;
        queue[tail] = prev;
        count++;
      }
    }
    if (eps <= epsFinal) break;
    eps = Math.max(epsFinal, eps / scaling);
  }
  let total2 = 0;
  for (let s = 0; s < n; s++) {
    const i = owner[s]!;
    const j = clusterOfSlot[s]!;
    labels[i] = j;
    total2 += cost[i * k + j]!;
  }
  return { labels, cost: total2, bids };
}
