/**
 * Weighted undirected graphs in CSR form (the METIS layout): neighbours of v are
 * adjncy[xadj[v] .. xadj[v+1]) with weights adjwgt at the same positions. Every edge is stored in
 * both directions, there are no self loops, and each row is sorted by neighbour id.
 */
import { PartitionError } from './errors.js';

export interface CsrGraph {
  /** number of vertices (neurons) */
  n: number;
  /** [n + 1] row offsets */
  xadj: Int32Array;
  /** [2·edges] neighbour ids */
  adjncy: Int32Array;
  /** [2·edges] edge weights (> 0) */
  adjwgt: Float64Array;
}

/**
 * Graph from an edge list (us[t], vs[t], ws[t]). Self loops and weights ≤ 0 are dropped; an edge
 * listed several times (in either direction) is merged by `merge`: 'sum' adds the weights, 'max'
 * keeps the largest (for union-symmetrised top-K lists, where both copies carry the same weight).
 */
export function graphFromEdges(n: number, us: Int32Array, vs: Int32Array, ws: Float64Array | Float32Array, merge: 'sum' | 'max' = 'sum'): CsrGraph {
  const op = 'graphFromEdges';
  if (us.length !== vs.length || us.length !== ws.length) throw new PartitionError(op, `edge arrays differ in length: ${us.length}, ${vs.length}, ${ws.length}`);
  let m = 0;
  for (let t = 0; t < us.length; t++) {
    const u = us[t]!;
    const v = vs[t]!;
    const w = ws[t]!;
    if (u < 0 || u >= n || v < 0 || v >= n || !Number.isInteger(u) || !Number.isInteger(v)) throw new PartitionError(op, `edge ${t} (${u}, ${v}) has an endpoint outside [0, ${n})`);
    if (!Number.isFinite(w)) throw new PartitionError(op, `edge ${t} (${u}, ${v}) has weight ${w}; weights must be finite`);
    if (u !== v && w > 0) m++;
  }
  // Two stable counting sorts (by neighbour, then by row) give rows sorted by neighbour id.
  /** [2m] directed copies: source, target, weight */
  const src = new Int32Array(2 * m);
  const dst = new Int32Array(2 * m);
  const wt = new Float64Array(2 * m);
  let t2 = 0;
  for (let t = 0; t < us.length; t++) {
    const u = us[t]!;
    const v = vs[t]!;
    const w = ws[t]!;
    if (u === v || !(w > 0)) continue;
    src[t2] = u; dst[t2] = v; wt[t2++] = w;
    src[t2] = v; dst[t2] = u; wt[t2++] = w;
  }
  const byDst = countingOrder(dst, n, null);
  const order = countingOrder(src, n, byDst);
  const xadj = new Int32Array(n + 1);
  const adjncy = new Int32Array(2 * m);
  const adjwgt = new Float64Array(2 * m);
  let out = 0;
  let row = 0;
  for (let r = 0; r < order.length; r++) {
    const e = order[r]!;
    const u = src[e]!;
    while (row <= u) xadj[row++] = out;
    const v = dst[e]!;
    if (out > xadj[u]! && adjncy[out - 1] === v) {
      adjwgt[out - 1] = merge === 'sum' ? adjwgt[out - 1]! + wt[e]! : Math.max(adjwgt[out - 1]!, wt[e]!);
    } else {
      adjncy[out] = v;
      adjwgt[out++] = wt[e]!;
    }
  }
  while (row <= n) xadj[row++] = out;
  return { n, xadj, adjncy: adjncy.slice(0, out), adjwgt: adjwgt.slice(0, out) };
}

/** Stable counting sort of positions by key; `within` is an existing order to refine. */
function countingOrder(keys: Int32Array, n: number, within: Int32Array | null): Int32Array {
  const cnt = new Int32Array(n + 1);
  for (let t = 0; t < keys.length; t++) cnt[keys[t]! + 1]!++;
  for (let i = 0; i < n; i++) cnt[i + 1]! += cnt[i]!;
  const out = new Int32Array(keys.length);
  for (let r = 0; r < keys.length; r++) {
    const t = within === null ? r : within[r]!;
    out[cnt[keys[t]!]!++] = t;
  }
  return out;
}

/** Graph from a dense [n, n] matrix, symmetrised as (W_ij + W_ji) / 2; entries ≤ 0 and the diagonal are ignored. */
export function graphFromDense(w: Float32Array | Float64Array, n: number): CsrGraph {
  if (w.length !== n * n) throw new PartitionError('graphFromDense', `matrix must have n·n = ${n * n} elements [n, n], got ${w.length}`);
  let m = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (w[i * n + j]! + w[j * n + i]! > 0) m++;
  const us = new Int32Array(m);
  const vs = new Int32Array(m);
  const ws = new Float64Array(m);
  let t = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = (w[i * n + j]! + w[j * n + i]!) / 2;
      if (v > 0) { us[t] = i; vs[t] = j; ws[t++] = v; }
    }
  }
  return graphFromEdges(n, us, vs, ws);
}

/** Total weight of edges whose endpoints carry different labels. */
export function edgeCut(g: CsrGraph, labels: Int32Array): number {
  let cut = 0;
  for (let v = 0; v < g.n; v++) {
    const lv = labels[v]!;
    for (let e = g.xadj[v]!; e < g.xadj[v + 1]!; e++) {
      const u = g.adjncy[e]!;
      if (u > v && labels[u] !== lv) cut += g.adjwgt[e]!;
    }
  }
  return cut;
}

/** Σ of all edge weights (each undirected edge once). */
export function totalEdgeWeight(g: CsrGraph): number {
  let s = 0;
  for (let e = 0; e < g.adjwgt.length; e++) s += g.adjwgt[e]!;
  return s / 2;
}
