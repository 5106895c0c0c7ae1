/**
 * Routing statistics per layer and step (expert load, importance, drops, entropies, selection
 * histograms) and the one accumulator that sums them over steps, layers and domains (load,
 * importance, CV², entropies, the mutual information between domain and expert) and serialises to
 * plain JSON for logs and load heatmaps. The MoE layer's per-forward record, the routing command
 * and the demo's specialisation measure all go through these functions.
 */
import { RouterError, checkDim, checkFloat, type FloatArray } from './errors.js';
import type { DispatchPlan } from './dispatch.js';
import { cvSquared } from './losses.js';
import { entropyOf, softmaxRows } from './math.js';

/**
 * Mean over the T tokens of the entropy (nats) of each token's routing probabilities
 * `probs [T, E]`: −(1/T) Σ_{t,e} p log p, 0 terms skipped; 0 when T is 0.
 */
export function meanTokenEntropy(probs: ArrayLike<number>, T: number, E: number): number {
  let ent = 0;
  for (let t = 0; t < T; t++) {
    for (let e = 0; e < E; e++) {
      const p = probs[t * E + e]!;
      if (p > 0) ent -= p * Math.log(p);
    }
  }
  return T ? ent / T : 0;
}

/** Any gate result: noisyTopKGate, switchGate and mixtralGate results all fit. */
export interface TopkRouting {
  /** [T, k] */
  topkIndices: Int32Array;
  /** [T, k], optional (importance is 0 without it). */
  topkScores?: FloatArray | null;
  numSelects: number;
}

export type RoutingStatsSource = DispatchPlan<FloatArray> | TopkRouting;

export interface RoutingStatsOptions {
  /** [T, E] router logits, for the per-token entropy of the full softmax. */
  logits?: FloatArray | null;
  /** [T, E] router probabilities (instead of logits). */
  probs?: FloatArray | null;
}

export interface RoutingStats {
  numTokens: number;
  numExperts: number;
  /** k; 0 for expert-choice. */
  topK: number;
  /** Int32Array [E]: rows each expert processed (after capacity). */
  load: Int32Array;
  /** Int32Array [E]: selections of each expert before capacity. */
  requested: Int32Array;
  /** Float64Array [E]: Σ gate score per expert over all selections. */
  importance: Float64Array;
  /** Selections dropped by the capacity. */
  dropped: number;
  /** Int32Array [E] */
  droppedPerExpert: Int32Array;
  /** Mean over tokens of the entropy (nats) of the full softmax over experts; null without logits/probs. */
  tokenEntropy: number | null;
  /** Entropy (nats) of load / Σ load; log(E) is perfectly balanced. */
  loadEntropy: number;
  /** Int32Array [k, E]: how often expert e was a token's j-th choice (top-k sources; empty for expert-choice). */
  selectionHistogram: Int32Array;
  /** Int32Array [maxExperts + 1]: tokens processed by 0, 1, 2, ... routed experts. */
  expertsPerToken: Int32Array;
}

function isPlan(x: RoutingStatsSource): x is DispatchPlan<FloatArray> {
  return (x as DispatchPlan<FloatArray>).permutation instanceof Int32Array && typeof (x as DispatchPlan<FloatArray>).routedSlots === 'number';
}

/** Statistics of one routing step from a dispatch plan or a gate result. */
export function routingStats(source: RoutingStatsSource, numExperts: number, options: RoutingStatsOptions = {}): RoutingStats {
  const op = 'routingStats';
  const E = numExperts;
  checkDim(op, 'numExperts', E);
  let T: number;
  let k: number;
  let indices: Int32Array | null;
  let scores: FloatArray | null;
  const load = new Int32Array(E);
  const requested = new Int32Array(E);
  const droppedPerExpert = new Int32Array(E);
  const importance = new Float64Array(E);
  let dropped = 0;
  /** [T] */ let perToken: Int32Array;

  if (isPlan(source)) {
    if (source.numExperts !== E) throw new RouterError('shape', op, `plan routes ${source.numExperts} experts but numExperts=${E}`);
    T = source.numTokens;
    k = source.topK;
    indices = source.topkIndices;
    scores = source.topkScores;
    perToken = new Int32Array(T);
    for (let e = 0; e < E; e++) {
      load[e] = source.counts[e]!;
      requested[e] = source.requested[e]!;
      droppedPerExpert[e] = source.droppedPerExpert[e]!;
    }
    dropped = source.numDropped;
    for (let s = 0; s < source.routedSlots; s++) perToken[source.permutation[s]!]!++;
    if (!indices) {
      // Expert-choice: importance is the sum of the chosen weights.
      for (let e = 0; e < E; e++) {
        for (let s = source.offsets[e]!; s < source.offsets[e + 1]!; s++) importance[e]! += source.slotWeights[s]!;
      }
    }
  } else {
    k = source.numSelects;
    checkDim(op, 'numSelects', k);
    indices = source.topkIndices;
    if (!(indices instanceof Int32Array) || indices.length % k !== 0) throw new RouterError('shape', op, `topkIndices must be an Int32Array [T, k=${k}]`);
    T = indices.length / k;
    scores = source.topkScores ?? null;
    perToken = new Int32Array(T).fill(k);
  }

  const selectionHistogram = new Int32Array(indices ? k * E : 0);
  if (indices) {
    if (scores) checkFloat(op, 'topkScores', scores, T * k, `[T=${T}, k=${k}]`);
    for (let i = 0; i < T * k; i++) {
      const e = indices[i]!;
      if (e < 0 || e >= E) throw new RouterError('index', op, `topkIndices[${Math.floor(i / k)}, ${i % k}] = ${e} is outside [0, ${E})`);
      selectionHistogram[(i % k) * E + e]!++;
      if (scores) importance[e]! += scores[i]!;
      if (!isPlan(source)) {
        load[e]!++;
        requested[e]!++;
      }
    }
  }

  let tokenEntropy: number | null = null;
  const probsIn = options.probs ?? null;
  const logitsIn = options.logits ?? null;
  if (probsIn || logitsIn) {
    let probs: FloatArray;
    if (probsIn) {
      checkFloat(op, 'probs', probsIn, T * E, `[T=${T}, E=${E}]`);
      probs = probsIn;
    } else {
      checkFloat(op, 'logits', logitsIn, T * E, `[T=${T}, E=${E}]`);
      probs = new Float64Array(T * E);
      softmaxRows(op, logitsIn as FloatArray, T, E, probs);
    }
    tokenEntropy = meanTokenEntropy(probs, T, E);
  }

  let maxPer = 0;
  for (let t = 0; t < T; t++) if (perToken[t]! > maxPer) maxPer = perToken[t]!;
  const expertsPerToken = new Int32Array(maxPer + 1);
  for (let t = 0; t < T; t++) expertsPerToken[perToken[t]!]!++;

  return {
    numTokens: T,
    numExperts: E,
    topK: k,
    load,
    requested,
    importance,
    dropped,
    droppedPerExpert,
    tokenEntropy,
    loadEntropy: entropyOf(load),
    selectionHistogram,
    expertsPerToken,
  };
}

/**
 * What `RoutingStatsAccumulator.add` sums: a `RoutingStats`, or any per-layer record with the
 * same fields (a model forward's MoE record: load, importance, dropped, tokenEntropy, numTokens).
 * Missing fields count as zeros (`requested` as `load`); a null or missing tokenEntropy carries no entropy.
 */
export interface RoutingCounts {
  numTokens: number;
  /** E when given; else the length of `load`. */
  numExperts?: number;
  /** [E] rows each expert processed. */
  load: ArrayLike<number>;
  /** [E] selections before capacity; defaults to load. */
  requested?: ArrayLike<number> | null;
  /** [E] Σ gate score per expert. */
  importance?: ArrayLike<number> | null;
  dropped?: number;
  droppedPerExpert?: ArrayLike<number> | null;
  /** Mean per-token entropy (nats) of the routing probabilities, or null. */
  tokenEntropy?: number | null;
}

/** One layer's sums in `RoutingStatsAccumulator.toJSON()`; every field is plain JSON. */
export interface LayerStatsJSON {
  layer: number;
  /** add() calls for this layer. */
  steps: number;
  tokens: number;
  load: number[];
  requested: number[];
  importance: number[];
  dropped: number;
  droppedPerExpert: number[];
  /** Σ over steps of tokenEntropy · tokens, and the tokens that carried an entropy. */
  tokenEntropySum: number;
  tokenEntropyTokens: number;
  /** tokenEntropySum / tokenEntropyTokens, or null. */
  meanTokenEntropy: number | null;
  /** Entropy of the accumulated load distribution (nats). */
  loadEntropy: number;
  /** Accumulated load as fractions of all processed rows of this layer. */
  loadFraction: number[];
  /** Per domain (in the order first seen), the same sums over the records added with that domain; absent when none was. */
  domains?: Record<string, Omit<LayerStatsJSON, 'layer' | 'domains'>>;
}

export interface RoutingStatsJSON {
  version: 1;
  numExperts: number;
  layers: LayerStatsJSON[];
}

/** `RoutingStatsAccumulator.summary()`: one layer (or one domain of it), accumulated. */
export interface RoutingSummary {
  layer: number;
  /** The domain summarised, or null for the whole layer. */
  domain: string | null;
  steps: number;
  tokens: number;
  /** [E] accumulated rows per expert. */
  load: number[];
  /** [E] load as fractions of its sum (zeros when nothing was routed). */
  loadFraction: number[];
  /** [E] accumulated Σ gate score per expert. */
  importance: number[];
  /** cv²(load) and cv²(importance), LLaMA-MoE's balance measure (0 is perfectly even). */
  loadCv2: number;
  importanceCv2: number;
  dropped: number;
  /** Token-weighted mean routing entropy (nats), null when no record carried one. */
  meanTokenEntropy: number | null;
  /** Entropy (nats) of loadFraction; log(E) is perfectly balanced. */
  loadEntropy: number;
}

interface LayerSums {
  steps: number;
  tokens: number;
  load: Float64Array;
  requested: Float64Array;
  importance: Float64Array;
  dropped: number;
  droppedPerExpert: Float64Array;
  tokenEntropySum: number;
  tokenEntropyTokens: number;
}

function newSums(E: number): LayerSums {
  return {
    steps: 0,
    tokens: 0,
    load: new Float64Array(E),
    requested: new Float64Array(E),
    importance: new Float64Array(E),
    dropped: 0,
    droppedPerExpert: new Float64Array(E),
    tokenEntropySum: 0,
    tokenEntropyTokens: 0,
  };
}

function addSums(s: LayerSums, c: RoutingCounts, E: number): void {
  s.steps++;
  s.tokens += c.numTokens;
  const requested = c.requested ?? c.load;
  for (let e = 0; e < E; e++) {
    s.load[e]! += c.load[e]!;
    s.requested[e]! += requested[e]!;
    if (c.importance) s.importance[e]! += c.importance[e]!;
    if (c.droppedPerExpert) s.droppedPerExpert[e]! += c.droppedPerExpert[e]!;
  }
  s.dropped += c.dropped ?? 0;
  if (c.tokenEntropy !== null && c.tokenEntropy !== undefined) {
    s.tokenEntropySum += c.tokenEntropy * c.numTokens;
    s.tokenEntropyTokens += c.numTokens;
  }
}

function mergeSums(s: LayerSums, o: LayerSums, E: number): void {
  s.steps += o.steps;
  s.tokens += o.tokens;
  s.dropped += o.dropped;
  s.tokenEntropySum += o.tokenEntropySum;
  s.tokenEntropyTokens += o.tokenEntropyTokens;
  for (let e = 0; e < E; e++) {
    s.load[e]! += o.load[e]!;
    s.requested[e]! += o.requested[e]!;
    s.importance[e]! += o.importance[e]!;
    s.droppedPerExpert[e]! += o.droppedPerExpert[e]!;
  }
}

function sumsJSON(s: LayerSums): Omit<LayerStatsJSON, 'layer' | 'domains'> {
  let total = 0;
  for (let e = 0; e < s.load.length; e++) total += s.load[e]!;
  return {
    steps: s.steps,
    tokens: s.tokens,
    load: Array.from(s.load),
    requested: Array.from(s.requested),
    importance: Array.from(s.importance),
    dropped: s.dropped,
    droppedPerExpert: Array.from(s.droppedPerExpert),
    tokenEntropySum: s.tokenEntropySum,
    tokenEntropyTokens: s.tokenEntropyTokens,
    meanTokenEntropy: s.tokenEntropyTokens > 0 ? s.tokenEntropySum / s.tokenEntropyTokens : null,
    loadEntropy: entropyOf(s.load),
    loadFraction: Array.from(s.load, (v) => (total > 0 ? v / total : 0)),
  };
}

function sumsFromJSON(s: LayerSums, l: Omit<LayerStatsJSON, 'layer' | 'domains'>, E: number, where: string): void {
  for (const key of ['load', 'requested', 'importance', 'droppedPerExpert'] as const) {
    if (!Array.isArray(l[key]) || l[key].length !== E) {
      throw new RouterError('shape', 'RoutingStatsAccumulator.fromJSON', `${where}: ${key} must list ${E} numbers`);
    }
  }
  s.steps = l.steps;
  s.tokens = l.tokens;
  s.dropped = l.dropped;
  s.tokenEntropySum = l.tokenEntropySum;
  s.tokenEntropyTokens = l.tokenEntropyTokens;
  s.load.set(l.load);
  s.requested.set(l.requested);
  s.importance.set(l.importance);
  s.droppedPerExpert.set(l.droppedPerExpert);
}

/**
 * Sums routing statistics over steps, per layer and optionally per domain (a validation split's
 * domains, a training batch's source): load, importance, drops and token entropy, with summaries
 * (load fractions, CV², entropies) and the mutual information between domain and expert choice.
 */
export class RoutingStatsAccumulator {
  readonly numExperts: number;
  private readonly sums = new Map<number, LayerSums>();
  /** layer → domain → sums, domains in the order first added. */
  private readonly domainSums = new Map<number, Map<string, LayerSums>>();

  constructor(numExperts: number) {
    checkDim('RoutingStatsAccumulator', 'numExperts', numExperts);
    this.numExperts = numExperts;
  }

  private layerSums(layer: number): LayerSums {
    let s = this.sums.get(layer);
    if (!s) {
      s = newSums(this.numExperts);
      this.sums.set(layer, s);
    }
    return s;
  }

  private domainLayerSums(layer: number, domain: string): LayerSums {
    let m = this.domainSums.get(layer);
    if (!m) this.domainSums.set(layer, (m = new Map()));
    let s = m.get(domain);
    if (!s) m.set(domain, (s = newSums(this.numExperts)));
    return s;
  }

  /** Adds one step's statistics (a `RoutingStats` or a model's per-layer record) for `layer` (default 0), and for `domain` when given. */
  add(stats: RoutingCounts, layer = 0, domain?: string): this {
    checkDim('RoutingStatsAccumulator.add', 'layer', layer, 0);
    const E = stats.numExperts ?? stats.load.length;
    if (E !== this.numExperts || stats.load.length !== this.numExperts) {
      throw new RouterError('shape', 'RoutingStatsAccumulator.add', `stats cover ${E} experts but the accumulator was made for ${this.numExperts}`);
    }
    addSums(this.layerSums(layer), stats, this.numExperts);
    if (domain !== undefined) addSums(this.domainLayerSums(layer, domain), stats, this.numExperts);
    return this;
  }

  /** Adds every layer (and domain) of another accumulator (e.g. from another worker). */
  merge(other: RoutingStatsAccumulator): this {
    if (other.numExperts !== this.numExperts) throw new RouterError('shape', 'RoutingStatsAccumulator.merge', `other has ${other.numExperts} experts, this ${this.numExperts}`);
    for (const [layer, o] of other.sums) mergeSums(this.layerSums(layer), o, this.numExperts);
    for (const [layer, m] of other.domainSums) for (const [d, o] of m) mergeSums(this.domainLayerSums(layer, d), o, this.numExperts);
    return this;
  }

  reset(): void {
    this.sums.clear();
    this.domainSums.clear();
  }

  /** Layer ids seen so far, ascending. */
  layers(): number[] {
    return [...this.sums.keys()].sort((a, b) => a - b);
  }

  /** Domains added for `layer`, in the order first seen (every layer's when omitted). */
  domains(layer?: number): string[] {
    if (layer !== undefined) return [...(this.domainSums.get(layer)?.keys() ?? [])];
    const all = new Set<string>();
    for (const m of this.domainSums.values()) for (const d of m.keys()) all.add(d);
    return [...all];
  }

  /** One layer's accumulated statistics, or one domain's share of them; null when nothing was added for it. */
  summary(layer: number, domain?: string): RoutingSummary | null {
    const s = domain === undefined ? this.sums.get(layer) : this.domainSums.get(layer)?.get(domain);
    if (!s) return null;
    const j = sumsJSON(s);
    return {
      layer,
      domain: domain ?? null,
      steps: j.steps,
      tokens: j.tokens,
      load: j.load,
      loadFraction: j.loadFraction,
      importance: j.importance,
      loadCv2: cvSquared(s.load),
      importanceCv2: cvSquared(s.importance),
      dropped: j.dropped,
      meanTokenEntropy: j.meanTokenEntropy,
      loadEntropy: j.loadEntropy,
    };
  }

  /**
   * Mutual information I(domain; expert) in bits of `layer`'s accumulated load, the joint
   * distribution being each domain's load per expert over all domains' load: 0 when the experts a
   * token gets do not depend on its domain, log₂(min(D, E)) at most. 0 without domains.
   */
  mutualInformation(layer: number): number {
    const m = this.domainSums.get(layer);
    if (!m) return 0;
    const E = this.numExperts;
    const rows = [...m.values()].map((s) => s.load);
    let N = 0;
    for (const r of rows) {
      let nd = 0;
      for (let e = 0; e < E; e++) nd += r[e]!;
      N += nd;
    }
    if (!(N > 0)) return 0;
    const pe = new Float64Array(E);
    for (const r of rows) for (let e = 0; e < E; e++) pe[e]! += r[e]! / N;
    let mi = 0;
    for (const r of rows) {
      let nd = 0;
      for (let e = 0; e < E; e++) nd += r[e]!;
      for (let e = 0; e < E; e++) {
        if (r[e] === 0) continue;
        const pde = r[e]! / N;
        mi += pde * Math.log2(pde / ((nd / N) * pe[e]!));
      }
    }
    return mi;
  }

  /** [layers][E] accumulated load fractions, rows in `layers()` order: ready for a heatmap. */
  loadHeatmap(): number[][] {
    return this.toJSON().layers.map((l) => l.loadFraction);
  }

  toJSON(): RoutingStatsJSON {
    const layers = this.layers().map((layer): LayerStatsJSON => {
      const out: LayerStatsJSON = { layer, ...sumsJSON(this.sums.get(layer) as LayerSums) };
      const m = this.domainSums.get(layer);
      if (m && m.size) out.domains = Object.fromEntries([...m].map(([d, s]) => [d, sumsJSON(s)]));
      return out;
    });
    return { version: 1, numExperts: this.numExperts, layers };
  }

  /** Rebuilds an accumulator from `toJSON()` output (e.g. to resume logging). */
  static fromJSON(json: RoutingStatsJSON): RoutingStatsAccumulator {
    if (!json || json.version !== 1 || !Array.isArray(json.layers)) {
      throw new RouterError('argument', 'RoutingStatsAccumulator.fromJSON', 'expected the object written by RoutingStatsAccumulator.toJSON() (version 1)');
    }
    const acc = new RoutingStatsAccumulator(json.numExperts);
    const E = json.numExperts;
    for (const l of json.layers) {
      sumsFromJSON(acc.layerSums(l.layer), l, E, `layer ${l.layer}`);
      for (const [d, ds] of Object.entries(l.domains ?? {})) sumsFromJSON(acc.domainLayerSums(l.layer, d), ds, E, `layer ${l.layer} domain ${d}`);
    }
    return acc;
  }
}
