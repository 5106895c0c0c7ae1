/**
 * Balanced graph partitioning into parts of exact sizes (LLaMA-MoE's graph split hands the
 * co-activation graph to METIS; this is a self-contained multilevel partitioner in the same
 * spirit).
 *
 * Recursive bisection over expert sets, so any E (not only powers of two) works. Side A of a
 * bisection may take any weight t that exactly one multiset of the remaining experts' sizes sums
 * to (with equal sizes: any multiple of the size), and then receives the fewest-experts subset of
 * that multiset; letting the cut choose t means a cluster is cut off whole instead of being split
 * to meet a fixed half. Each bisection is multilevel:
 *  1. coarsening by heavy-edge matching (vertices visited in seeded random order, each matched to
 *     its unmatched neighbour of heaviest edge, coarse vertex weight capped at 1.5·n/coarsenTo)
 *     until ≤ coarsenTo vertices remain or a level shrinks by less than 5 %;
 *  2. initial bisection of the coarsest graph by graph growing (see initialBisect), best of
 *     `initTrials` FM-refined tries;
 *  3. uncoarsening: project, then Fiduccia–Mattheyses refinement (passes of tentative best-gain
 *     moves with vertex locking, rolled back to the best prefix). Coarse levels allow an imbalance
 *     of one maximal vertex weight. A projected partition outside that tolerance is first
 *     rebalanced by best-gain moves off the heavy side; on the finest level the tolerance is 0, so
 *     the sizes are exact, and passes may wander a small slack off balance (so a group of vertices
 *     can cross before others come back) but always roll back to an exactly balanced prefix.
 * After recursive bisection a k-way pass runs the same exact-balance FM on every pair of parts
 * that share edges (moves between a and b only change edges to a and b), strongest pairs first.
 * Deterministic for a seed: every random choice comes from the seeded rng and heap ties are broken
 * by vertex id.
 */
import type { Rng } from '@llama-moe/tensor-core';
import { PartitionError, atLayer } from './errors.js';
import { edgeCut, totalEdgeWeight, type CsrGraph } from './graph.js';
import { IndexedMaxHeap } from './heap.js';
import { layerRng, iota, shuffleInPlace } from './seed.js';
import type { NeuronPartition } from './types.js';
import { expertsFromLabels } from './validate.js';

export interface GraphPartitionOptions {
  seed?: number;
  layer?: number;
  /** Stop coarsening at this many vertices (default 100). */
  coarsenTo?: number;
  /** Graph-growing tries on the coarsest graph (default 16). */
  initTrials?: number;
  /** Maximum FM passes per level (default 8). */
  fmPasses?: number;
  /** Sweeps of pairwise k-way refinement after recursive bisection (default 2; 0 disables). */
  kwayPasses?: number;
}

export interface GraphPartitionResult {
  /** [n] part of each vertex; part j has exactly sizes[j] vertices */
  labels: Int32Array;
  /** total weight of edges between parts */
  cut: number;
}

/** Internal graph with vertex weights (coarse vertices stand for several neurons). */
interface WGraph extends CsrGraph {
  /** [n] vertex weights */
  vwgt: Int32Array;
  /** Σ vwgt */
  totalVw: number;
}

export function partitionGraph(g: CsrGraph, sizes: readonly number[], opts: GraphPartitionOptions = {}): GraphPartitionResult {
  const op = 'partitionGraph';
  const { layer } = opts;
  const L = atLayer(layer);
  let sum = 0;
  for (const s of sizes) {
    if (!Number.isInteger(s) || s < 1) throw new PartitionError(op, `every part size must be an integer ≥ 1, got ${s}${L}`, { layer });
    sum += s;
  }
  if (sizes.length === 0 || sum !== g.n) throw new PartitionError(op, `part sizes sum to ${sum} but the graph has ${g.n} vertices${L}`, { layer });
  if (g.xadj.length !== g.n + 1 || g.xadj[g.n] !== g.adjncy.length || g.adjncy.length !== g.adjwgt.length) {
    throw new PartitionError(op, `graph is not valid CSR: xadj must have n + 1 = ${g.n + 1} entries ending at adjncy.length (${g.adjncy.length}), adjwgt the same length as adjncy${L}`, { layer });
  }
  const cfg = {
    coarsenTo: Math.max(opts.coarsenTo ?? 100, 8),
    initTrials: Math.max(opts.initTrials ?? 16, 1),
    fmPasses: Math.max(opts.fmPasses ?? 8, 1),
    eps: 1e-12 * Math.max(totalEdgeWeight(g), 1e-300),
  };
  const rng = layerRng(opts.seed ?? 0, layer ?? 0, 0x47524150);
  const labels = new Int32Array(g.n);
  const base = withUnitWeights(g);

  const recurse = (verts: Int32Array, experts: Int32Array): void => {
    if (experts.length === 1) {
      for (let t = 0; t < verts.length; t++) labels[verts[t]!] = experts[0]!;
      return;
    }
    const n = verts.length;
    const allowed = subsetSums(experts, sizes, n);
    const sub = n === g.n ? base : inducedSubgraph(base, verts);
    const { side, target } = multilevelBisect(sub, allowed, rng, cfg);
    const [ea, eb] = splitExperts(experts, sizes, target);
    const a = new Int32Array(target);
    const b = new Int32Array(n - target);
    let na = 0;
    let nb = 0;
    for (let t = 0; t < n; t++) {
      if (side[t] === 0) a[na++] = verts[t]!;
      else b[nb++] = verts[t]!;
    }
    recurse(a, ea);
    recurse(b, eb);
  };
  recurse(iota(g.n), iota(sizes.length));

  for (let sweep = 0; sweep < (opts.kwayPasses ?? 2); sweep++) {
    if (!pairwiseRefine(base, labels, sizes.length, cfg)) break;
  }
  return { labels, cut: edgeCut(g, labels) };
}

function withUnitWeights(g: CsrGraph): WGraph {
  return { ...g, vwgt: new Int32Array(g.n).fill(1), totalVw: g.n };
}

/** Subgraph induced by `verts` (local id t ↔ verts[t]); edges leaving it are dropped. */
function inducedSubgraph(g: WGraph, verts: Int32Array): WGraph {
  /** [g.n] local id of each vertex, -1 outside */
  const local = new Int32Array(g.n).fill(-1);
  for (let t = 0; t < verts.length; t++) local[verts[t]!] = t;
  let m = 0;
  for (let t = 0; t < verts.length; t++) {
    const v = verts[t]!;
    for (let e = g.xadj[v]!; e < g.xadj[v + 1]!; e++) if (local[g.adjncy[e]!]! >= 0) m++;
  }
  const xadj = new Int32Array(verts.length + 1);
  const adjncy = new Int32Array(m);
  const adjwgt = new Float64Array(m);
  const vwgt = new Int32Array(verts.length);
  let out = 0;
  let total = 0;
  for (let t = 0; t < verts.length; t++) {
    const v = verts[t]!;
    vwgt[t] = g.vwgt[v]!;
    total += vwgt[t]!;
    for (let e = g.xadj[v]!; e < g.xadj[v + 1]!; e++) {
      const u = local[g.adjncy[e]!]!;
      if (u >= 0) { adjncy[out] = u; adjwgt[out++] = g.adjwgt[e]!; }
    }
    xadj[t + 1] = out;
  }
  return { n: verts.length, xadj, adjncy, adjwgt, vwgt, totalVw: total };
}

interface Cfg { coarsenTo: number; initTrials: number; fmPasses: number; eps: number }

/**
 * Sizes side A may take ([n + 1] flags): the t in (0, n) reached by exactly one multiset of the
 * experts' sizes. A side of weight t then has only one way of being divided among experts, which
 * the recursion can commit to without guessing: with sizes [8, 18, 26], a cut-off region of 26
 * might be the 26-expert or the 18- and 8-experts, so 26 is excluded, while 8 (only {8}) stays.
 * The smallest size is always allowed (only equal sizes can make it), so the set is never empty,
 * and it is symmetric (t allowed ⇔ n − t allowed), so either side of a cut may be side A.
 */
function subsetSums(experts: Int32Array, sizes: readonly number[], n: number): Uint8Array {
  const allowed = new Uint8Array(n + 1);
  const first = sizes[experts[0]!]!;
  if (experts.every((j) => sizes[j] === first)) {
    for (let t = first; t < n; t += first) allowed[t] = 1;
    return allowed;
  }
  const mult = new Map<number, number>();
  for (const j of experts) mult.set(sizes[j]!, (mult.get(sizes[j]!) ?? 0) + 1);
  /** [n + 1] number of distinct size multisets summing to x, saturated at 2 */
  let ways = new Uint8Array(n + 1);
  ways[0] = 1;
  for (const [v, c] of mult) {
    const next = new Uint8Array(n + 1);
    for (let x = 0; x <= n; x++) {
      let w = 0;
      for (let a = 0; a <= c && a * v <= x; a++) w += ways[x - a * v]!;
      next[x] = Math.min(w, 2);
    }
    ways = next;
  }
  for (let t = 1; t < n; t++) allowed[t] = ways[t] === 1 ? 1 : 0;
  return allowed;
}

/**
 * Split the expert list into a subset whose sizes sum to `target` and the rest. Among all such
 * subsets the one with the fewest experts wins (a cut-off cluster whose size equals one expert's
 * should become that expert, not be split again), then the lowest expert indices.
 */
function splitExperts(experts: Int32Array, sizes: readonly number[], target: number): [Int32Array, Int32Array] {
  const k = experts.length;
  const W = target + 1;
  const INF = 0x3fffffff;
  /** [(k + 1)·(target + 1)] fewest experts among i.. summing to exactly x (INF: impossible) */
  const cnt = new Int32Array((k + 1) * W).fill(INF);
  cnt[k * W] = 0;
  for (let i = k - 1; i >= 0; i--) {
    const s = sizes[experts[i]!]!;
    for (let x = 0; x <= target; x++) {
      let c = cnt[(i + 1) * W + x]!;
      if (x >= s) c = Math.min(c, cnt[(i + 1) * W + x - s]! + 1);
      cnt[i * W + x] = c;
    }
  }
  const a: number[] = [];
  const b: number[] = [];
  let x = target;
  for (let i = 0; i < k; i++) {
    const s = sizes[experts[i]!]!;
    // Take expert i whenever an optimal completion through it exists: lowest indices go to side A.
    if (x >= s && cnt[(i + 1) * W + x - s]! + 1 === cnt[i * W + x]) { a.push(experts[i]!); x -= s; }
    else b.push(experts[i]!);
  }
  return [Int32Array.from(a), Int32Array.from(b)];
}

/**
 * Bisect g (unit vertex weights) so that side 0 weighs some allowed t; the coarsest level picks t
 * (see initialBisect), finer levels keep it. Returns side [n] and t.
 */
function multilevelBisect(g: WGraph, allowed: Uint8Array, rng: Rng, cfg: Cfg): { side: Uint8Array; target: number } {
  const levels: WGraph[] = [g];
  const cmaps: Int32Array[] = [];
  const maxVw = Math.max(1, Math.floor((1.5 * g.totalVw) / cfg.coarsenTo));
  let cur = g;
  while (cur.n > cfg.coarsenTo) {
    const { coarse, cmap } = coarsen(cur, rng, maxVw);
    if (coarse.n === cur.n) break;
    levels.push(coarse);
    cmaps.push(cmap);
    const stalled = coarse.n > 0.95 * cur.n;
    cur = coarse;
    if (stalled) break;
  }
  const fm = new FmWorkspace(g.n);
  const bal = balanceOf(allowed);
  let side = initialBisect(cur, bal, rng, cfg, fm, levels.length === 1);
  for (let l = levels.length - 2; l >= 0; l--) {
    const fine = levels[l]!;
    const cmap = cmaps[l]!;
    const projected = new Uint8Array(fine.n);
    for (let v = 0; v < fine.n; v++) projected[v] = side[cmap[v]!]!;
    side = projected;
    refineLevel(fine, side, bal, cfg, fm, l === 0);
  }
  let target = 0;
  for (let v = 0; v < g.n; v++) if (side[v] === 0) target++;
  if (!allowed[target]) throw new PartitionError('partitionGraph', `internal: bisection of ${g.n} vertices ended with side weight ${target}, not an allowed size`);
  return { side, target };
}

/**
 * Balance constraint of a bisection as distances to the allowed side-A weights: dist[w] is how far
 * weight w is from the nearest allowed one, down[w] whether that one lies below w. Side A may end
 * at any allowed weight, so a level refines towards whichever allowed size the cut favours instead
 * of one fixed at the coarsest level (where coarse vertices straddling clusters blur weights).
 */
interface Balance {
  /** [n + 1] */
  dist: Int32Array;
  /** [n + 1] 1 when the nearest allowed weight is below (ties: below) */
  down: Uint8Array;
}

function balanceOf(allowed: Uint8Array): Balance {
  const n1 = allowed.length;
  const dist = new Int32Array(n1);
  const down = new Uint8Array(n1);
  let below = -Infinity;
  const belowAt = new Float64Array(n1);
  for (let w = 0; w < n1; w++) {
    if (allowed[w]) below = w;
    belowAt[w] = below;
  }
  let above = Infinity;
  for (let w = n1 - 1; w >= 0; w--) {
    if (allowed[w]) above = w;
    const db = w - belowAt[w]!;
    const da = above - w;
    if (db <= da) { dist[w] = Math.min(db, 0x3fffffff); down[w] = 1; }
    else { dist[w] = Math.min(da, 0x3fffffff); down[w] = 0; }
  }
  return { dist, down };
}

function exactBalance(n: number, target: number): Balance {
  const allowed = new Uint8Array(n + 1);
  allowed[target] = 1;
  return balanceOf(allowed);
}

/** Balance tolerances of one level: coarse levels allow one maximal vertex of slack, the finest none. */
function tolerances(g: WGraph, finest: boolean): { during: number; final: number } {
  if (finest) {
    // A little room during a pass lets FM move a group of vertices before moving others back.
    return { during: Math.max(2, Math.min(64, Math.ceil(0.02 * g.totalVw))), final: 0 };
  }
  let mx = 1;
  for (let v = 0; v < g.n; v++) if (g.vwgt[v]! > mx) mx = g.vwgt[v]!;
  return { during: mx, final: mx };
}

function refineLevel(g: WGraph, side: Uint8Array, bal: Balance, cfg: Cfg, fm: FmWorkspace, finest: boolean): void {
  const tol = tolerances(g, finest);
  fm.rebalance(g, side, bal, tol.final);
  for (let p = 0; p < cfg.fmPasses; p++) {
    if (!fm.pass(g, side, bal, tol.during, tol.final, cfg.eps)) break;
  }
}

/** Heavy-edge matching coarsening. cmap [n] maps each fine vertex to its coarse vertex. */
function coarsen(g: WGraph, rng: Rng, maxVw: number): { coarse: WGraph; cmap: Int32Array } {
  const n = g.n;
  const match = new Int32Array(n).fill(-1);
  const order = shuffleInPlace(iota(n), rng);
  for (let t = 0; t < n; t++) {
    const v = order[t]!;
    if (match[v] !== -1) continue;
    let best = -1;
    let bw = -Infinity;
    for (let e = g.xadj[v]!; e < g.xadj[v + 1]!; e++) {
      const u = g.adjncy[e]!;
      if (match[u] !== -1 || g.vwgt[u]! + g.vwgt[v]! > maxVw) continue;
      if (g.adjwgt[e]! > bw) { bw = g.adjwgt[e]!; best = u; }
    }
    if (best < 0) match[v] = v;
    else { match[v] = best; match[best] = v; }
  }
  const cmap = new Int32Array(n).fill(-1);
  /** [nc] smaller-id member of each coarse vertex */
  const rep = new Int32Array(n);
  let nc = 0;
  for (let v = 0; v < n; v++) {
    if (cmap[v] !== -1) continue;
    cmap[v] = nc;
    cmap[match[v]!] = nc;
    rep[nc++] = v;
  }
  const xadj = new Int32Array(nc + 1);
  const adjncy = new Int32Array(g.adjncy.length);
  const adjwgt = new Float64Array(g.adjncy.length);
  const vwgt = new Int32Array(nc);
  /** [nc] position of coarse neighbour in the current row, -1 when absent */
  const marker = new Int32Array(nc).fill(-1);
  let out = 0;
  for (let c = 0; c < nc; c++) {
    const rowStart = out;
    const v = rep[c]!;
    const u2 = match[v]!;
    for (let pass = 0; pass < (u2 === v ? 1 : 2); pass++) {
      const x = pass === 0 ? v : u2;
      vwgt[c]! += g.vwgt[x]!;
      for (let e = g.xadj[x]!; e < g.xadj[x + 1]!; e++) {
        const cu = cmap[g.adjncy[e]!]!;
        if (cu === c) continue;
        const at = marker[cu]!;
        if (at >= 0) adjwgt[at]! += g.adjwgt[e]!;
        else { marker[cu] = out; adjncy[out] = cu; adjwgt[out++] = g.adjwgt[e]!; }
      }
    }
    for (let e = rowStart; e < out; e++) marker[adjncy[e]!] = -1;
    xadj[c + 1] = out;
  }
  return { coarse: { n: nc, xadj, adjncy: adjncy.slice(0, out), adjwgt: adjwgt.slice(0, out), vwgt, totalVw: g.totalVw }, cmap };
}

/**
 * Initial bisection of the coarsest graph by graph growing, best of `initTrials` seeded tries.
 * A try grows a region from a random vertex, always absorbing the boundary vertex most strongly
 * connected to the region (maximum-adjacency order; the classic cut-decrease key prefers
 * low-degree vertices of small neighbouring clusters over the cluster being grown), restarting
 * from a random vertex when the boundary is empty (disconnected graph). Every prefix whose weight
 * is within the level's tolerance of an allowed size t is a candidate, scored by ratio cut
 * cut / (t·(n − t)) so that neither tiny nor huge sides win by size alone (plus the expected cost
 * of moving |w − t| units across when the prefix weight w misses t); the best prefix is
 * rebalanced and FM-refined with target t. Tries compare by (balance violation, ratio cut).
 */
function initialBisect(g: WGraph, bal: Balance, rng: Rng, cfg: Cfg, fm: FmWorkspace, finest: boolean): Uint8Array {
  const total = g.totalVw;
  const heap = new IndexedMaxHeap(g.n);
  /** [n] weighted degree */
  const deg = new Float64Array(g.n);
  for (let v = 0; v < g.n; v++) for (let e = g.xadj[v]!; e < g.xadj[v + 1]!; e++) deg[v]! += g.adjwgt[e]!;
  /** [n] edge weight from each vertex into the grown region */
  const toRegion = new Float64Array(g.n);
  /** [n] absorption order of the current try */
  const order = new Int32Array(g.n);
  const inRegion = new Uint8Array(g.n);
  const tol = tolerances(g, finest);
  let degSum = 0;
  for (let v = 0; v < g.n; v++) degSum += deg[v]!;
  const unitDeg = degSum / total;
  /** Allowed weight nearest to w. */
  const nearest = (w: number): number => (bal.down[w] ? w - bal.dist[w]! : w + bal.dist[w]!);
  let best: Uint8Array | null = null;
  let bestViol = Infinity;
  let bestScore = Infinity;
  const trials = Math.min(cfg.initTrials, g.n);
  for (let trial = 0; trial < trials; trial++) {
    heap.clear();
    toRegion.fill(0);
    inRegion.fill(0);
    let w = 0;
    let cut = 0;
    let len = 0;
    let candLen = -1;
    let candScore = Infinity;
    let next = rng.int(g.n);
    while (len < g.n - 1) {
      const v = next;
      heap.remove(v);
      inRegion[v] = 1;
      order[len++] = v;
      w += g.vwgt[v]!;
      // Edges from v to the region stop being cut, the rest of v's edges start being cut.
      cut += deg[v]! - 2 * toRegion[v]!;
      for (let e = g.xadj[v]!; e < g.xadj[v + 1]!; e++) {
        const u = g.adjncy[e]!;
        if (inRegion[u]) continue;
        toRegion[u]! += g.adjwgt[e]!;
        if (heap.has(u)) heap.update(u, toRegion[u]!);
        else heap.push(u, toRegion[u]!);
      }
      if (bal.dist[w]! <= tol.final) {
        const t = nearest(w);
        // A prefix off its size by |w − t| units will have that many units moved across, each
        // costing about the average weighted degree per unit of vertex weight.
        const score = (cut + Math.abs(w - t) * unitDeg) / (t * (total - t));
        if (candLen < 0 || score < candScore * (1 - 1e-12)) { candScore = score; candLen = len; }
      }
      next = heap.top();
      if (next < 0) {
        let r = rng.int(g.n - len);
        for (let u = 0; u < g.n; u++) if (!inRegion[u] && r-- === 0) { next = u; break; }
      }
    }
    if (candLen < 0) continue;
    const side = new Uint8Array(g.n).fill(1);
    for (let t = 0; t < candLen; t++) side[order[t]!] = 0;
    fm.rebalance(g, side, bal, tol.final);
    for (let p = 0; p < cfg.fmPasses; p++) if (!fm.pass(g, side, bal, tol.during, tol.final, cfg.eps)) break;
    let wA = 0;
    for (let v = 0; v < g.n; v++) if (side[v] === 0) wA += g.vwgt[v]!;
    const viol = Math.max(0, bal.dist[wA]! - tol.final);
    const t = nearest(wA);
    const score = sideCut(g, side) / (t * (total - t));
    if (best === null || viol < bestViol || (viol === bestViol && score < bestScore * (1 - 1e-12))) {
      best = side;
      bestViol = viol;
      bestScore = score;
    }
  }
  if (best === null) throw new PartitionError('partitionGraph', `internal: no bisection of ${g.n} vertices reached an allowed size`);
  return best;
}

function countIn(side: Uint8Array, s: number): number {
  let c = 0;
  for (let v = 0; v < side.length; v++) if (side[v] === s) c++;
  return c;
}

function sideCut(g: WGraph, side: Uint8Array): number {
  let cut = 0;
  for (let v = 0; v < g.n; v++) {
    for (let e = g.xadj[v]!; e < g.xadj[v + 1]!; e++) {
      const u = g.adjncy[e]!;
      if (u > v && side[u] !== side[v]) cut += g.adjwgt[e]!;
    }
  }
  return cut;
}

/** Scratch buffers of FM passes, sized for the largest graph of one bisection. */
class FmWorkspace {
  private heaps: [IndexedMaxHeap, IndexedMaxHeap];
  /** [cap] gain of moving each vertex to the other side (external − internal weight) */
  private gain: Float64Array;
  /** [cap] vertices moved in the current pass, in order */
  private moves: Int32Array;
  constructor(private cap: number) {
    this.heaps = [new IndexedMaxHeap(cap), new IndexedMaxHeap(cap)];
    this.gain = new Float64Array(cap);
    this.moves = new Int32Array(cap);
  }

  /**
   * One FM pass. With d(w) the distance from side-A weight w to the nearest allowed weight, a state
   * is scored by (max(0, d − tolFinal), cut, d) lexicographically; moves are allowed while
   * d ≤ tolDuring or when they reduce d, and beyond tolDuring only moves towards the nearest
   * allowed weight are made.
   * Returns whether the pass ended in a strictly better state than it started from.
   */
  pass(g: WGraph, side: Uint8Array, bal: Balance, tolDuring: number, tolFinal: number, eps: number): boolean {
    const n = g.n;
    if (n > this.cap) this.grow(n);
    const [h0, h1] = this.heaps;
    h0.clear();
    h1.clear();
    const gain = this.gain;
    let wA = 0;
    let cut = 0;
    for (let v = 0; v < n; v++) {
      let ext = 0;
      let int = 0;
      for (let e = g.xadj[v]!; e < g.xadj[v + 1]!; e++) {
        if (side[g.adjncy[e]!] === side[v]) int += g.adjwgt[e]!;
        else ext += g.adjwgt[e]!;
      }
      gain[v] = ext - int;
      cut += ext;
      if (side[v] === 0) { wA += g.vwgt[v]!; h0.push(v, ext - int); }
      else h1.push(v, ext - int);
    }
    cut /= 2;
    const dist = bal.dist;
    const viol = (w: number) => Math.max(0, dist[w]! - tolFinal);
    const startViol = viol(wA);
    const startCut = cut;
    let bestViol = startViol;
    let bestCut = cut;
    let bestImb = dist[wA]!;
    let bestIdx = 0;
    let nMoves = 0;
    let sinceBest = 0;
    const limit = Math.max(50, Math.min(n, 100 + (n >> 4)));
    for (;;) {
      const imb = dist[wA]!;
      const v0 = h0.top();
      const v1 = h1.top();
      const ok = (v: number, newW: number) => v >= 0 && (dist[newW]! <= tolDuring || dist[newW]! < imb);
      let ok0 = ok(v0, wA - (v0 >= 0 ? g.vwgt[v0]! : 0));
      let ok1 = ok(v1, wA + (v1 >= 0 ? g.vwgt[v1]! : 0));
      if (imb > tolDuring) {
        // Beyond the pass tolerance: only moves towards the nearest allowed weight.
        if (bal.down[wA]) ok1 = false;
        else ok0 = false;
      }
      let v: number;
      if (ok0 && ok1) v = gain[v0]! > gain[v1]! || (gain[v0] === gain[v1] && v0 < v1) ? v0 : v1;
      else if (ok0) v = v0;
      else if (ok1) v = v1;
      else break;
      const from = side[v]!;
      (from === 0 ? h0 : h1).remove(v);
      side[v] = 1 - from;
      wA += from === 0 ? -g.vwgt[v]! : g.vwgt[v]!;
      cut -= gain[v]!;
      gain[v] = -gain[v]!;
      for (let e = g.xadj[v]!; e < g.xadj[v + 1]!; e++) {
        const u = g.adjncy[e]!;
        const w2 = 2 * g.adjwgt[e]!;
        // u on v's old side: the edge is now external for u; on v's new side: internal.
        gain[u] = side[u] === from ? gain[u]! + w2 : gain[u]! - w2;
        const h = side[u] === 0 ? h0 : h1;
        if (h.has(u)) h.update(u, gain[u]!);
      }
      this.moves[nMoves++] = v;
      const vi = viol(wA);
      const ai = dist[wA]!;
      if (vi < bestViol || (vi === bestViol && (cut < bestCut - eps || (cut <= bestCut + eps && ai < bestImb)))) {
        bestViol = vi;
        bestCut = cut;
        bestImb = ai;
        bestIdx = nMoves;
        sinceBest = 0;
      } else if (++sinceBest > limit) break;
    }
    for (let t = nMoves - 1; t >= bestIdx; t--) {
      const v = this.moves[t]!;
      side[v] = 1 - side[v]!;
    }
    return bestViol < startViol || (bestViol === startViol && bestCut < startCut - eps);
  }

  /**
   * Bring side A within tolFinal of an allowed weight before FM: repeatedly move the heavy side's best-gain vertex
   * (skipping vertices whose weight would overshoot). FM itself would rank any balanced state above
   * every unbalanced one and could reach balance along an expensive path instead.
   */
  rebalance(g: WGraph, side: Uint8Array, bal: Balance, tolFinal: number): void {
    const n = g.n;
    if (n > this.cap) this.grow(n);
    const dist = bal.dist;
    let wA = 0;
    for (let v = 0; v < n; v++) if (side[v] === 0) wA += g.vwgt[v]!;
    if (dist[wA]! <= tolFinal) return;
    const heavy = bal.down[wA] ? 0 : 1;
    const h = this.heaps[0];
    h.clear();
    const gain = this.gain;
    for (let v = 0; v < n; v++) {
      if (side[v] !== heavy) continue;
      let gv = 0;
      for (let e = g.xadj[v]!; e < g.xadj[v + 1]!; e++) gv += side[g.adjncy[e]!] === heavy ? -g.adjwgt[e]! : g.adjwgt[e]!;
      gain[v] = gv;
      h.push(v, gv);
    }
    while (dist[wA]! > tolFinal && h.size > 0) {
      const v = h.pop();
      const newW = heavy === 0 ? wA - g.vwgt[v]! : wA + g.vwgt[v]!;
      if (dist[newW]! >= dist[wA]!) continue;
      side[v] = 1 - heavy;
      wA = newW;
      for (let e = g.xadj[v]!; e < g.xadj[v + 1]!; e++) {
        const u = g.adjncy[e]!;
        if (side[u] === heavy && h.has(u)) h.update(u, h.key[u]! + 2 * g.adjwgt[e]!);
      }
    }
  }

  private grow(n: number): void {
    this.cap = n;
    this.heaps = [new IndexedMaxHeap(n), new IndexedMaxHeap(n)];
    this.gain = new Float64Array(n);
    this.moves = new Int32Array(n);
  }
}

/**
 * Pairwise k-way refinement: for every pair of parts joined by edges (heaviest connection first),
 * exact-balance FM on the subgraph they induce. Returns whether any pair improved.
 */
function pairwiseRefine(g: WGraph, labels: Int32Array, k: number, cfg: Cfg): boolean {
  if (k < 2) return false;
  const conn = new Map<number, number>();
  for (let v = 0; v < g.n; v++) {
    const a = labels[v]!;
    for (let e = g.xadj[v]!; e < g.xadj[v + 1]!; e++) {
      const b = labels[g.adjncy[e]!]!;
      if (a < b) {
        const key = a * k + b;
        conn.set(key, (conn.get(key) ?? 0) + g.adjwgt[e]!);
      }
    }
  }
  const pairs = [...conn.entries()].sort((x, y) => y[1] - x[1] || x[0] - y[0]);
  const fm = new FmWorkspace(0);
  /** [n] vertices of the current pair, part a first */
  const buf = new Int32Array(g.n);
  let improved = false;
  for (const [key] of pairs) {
    const a = Math.floor(key / k);
    const b = key % k;
    // Membership changes as earlier pairs are refined, so collect it now (part sizes never change).
    let target = 0;
    for (let v = 0; v < g.n; v++) if (labels[v] === a) buf[target++] = v;
    let len = target;
    for (let v = 0; v < g.n; v++) if (labels[v] === b) buf[len++] = v;
    const vs = buf.slice(0, len);
    const sub = inducedSubgraph(g, vs);
    const side = new Uint8Array(vs.length);
    for (let t = 0; t < vs.length; t++) side[t] = labels[vs[t]!] === a ? 0 : 1;
    const tol = tolerances(sub, true);
    const bal = exactBalance(len, target);
    let any = false;
    for (let p = 0; p < cfg.fmPasses; p++) {
      if (!fm.pass(sub, side, bal, tol.during, tol.final, cfg.eps)) break;
      any = true;
    }
    if (any) {
      improved = true;
      for (let t = 0; t < vs.length; t++) labels[vs[t]!] = side[t] === 0 ? a : b;
    }
  }
  return improved;
}

/** `graph` method: partition the co-activation graph of one layer into experts of the given sizes. */
export function graphPartition(g: CsrGraph, F: number, sizes: readonly number[], opts: GraphPartitionOptions = {}): NeuronPartition {
  if (g.n !== F) {
    throw new PartitionError('graphPartition', `co-activation graph has ${g.n} vertices but intermediate_size is ${F}${atLayer(opts.layer)}`, { layer: opts.layer });
  }
  const { labels, cut } = partitionGraph(g, sizes, opts);
  return { method: 'graph', sizes: [...sizes], experts: expertsFromLabels(labels, sizes), overlap: false, edgeCut: cut };
}
