/**
 * Routing statistics per layer and step (expert load, importance, drops, entropies, selection
 * histograms) and an accumulator that sums them over steps and layers and serialises to plain
 * JSON for logs and load heatmaps.
 */
import { RouterError, checkDim, checkFloat, type FloatArray } from './errors.js';
import type { DispatchPlan } from './dispatch.js';
import { entropyOf, softmaxRows } from './math.js';

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
      load[e] = source.counts[e];
      requested[e] = source.requested[e];
      droppedPerExpert[e] = source.droppedPerExpert[e];
    }
    dropped = source.numDropped;
    for (let s = 0; s < source.routedSlots; s++) perToken[source.permutation[s]]++;
    if (!indices) {
      // Expert-choice: importance is the sum of the chosen weights.
      for (let e = 0; e < E; e++) {
        for (let s = source.offsets[e]; s < source.offsets[e + 1]; s++) importance[e] += source.slotWeights[s];
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
      const e = indices[i];
      if (e < 0 || e >= E) throw new RouterError('index', op, `topkIndices[${Math.floor(i / k)}, ${i % k}] = ${e} is outside [0, ${E})`);
      selectionHistogram[(i % k) * E + e]++;
      if (scores) importance[e] += scores[i];
      if (!isPlan(source)) {
        load[e]++;
        requested[e]++;
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
    let h = 0;
    for (let t = 0; t < T; t++) h += entropyOf(probs, t * E, E);
    tokenEntropy = T > 0 ? h / T : 0;
  }

  let maxPer = 0;
  for (let t = 0; t < T; t++) if (perToken[t] > maxPer) maxPer = perToken[t];
  const expertsPerToken = new Int32Array(maxPer + 1);
  for (let t = 0; t < T; t++) expertsPerToken[perToken[t]]++;

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
}

export interface RoutingStatsJSON {
  version: 1;
  numExperts: number;
  layers: LayerStatsJSON[];
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

/** Sums `RoutingStats` over steps, per layer. */
export class RoutingStatsAccumulator {
  readonly numExperts: number;
  private readonly sums = new Map<number, LayerSums>();

  constructor(numExperts: number) {
    checkDim('RoutingStatsAccumulator', 'numExperts', numExperts);
    this.numExperts = numExperts;
  }

  private layerSums(layer: number): LayerSums {
    let s = this.sums.get(layer);
    if (!s) {
      const E = this.numExperts;
      s = {
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
      this.sums.set(layer, s);
    }
    return s;
  }

  /** Adds one step's statistics for `layer` (default 0). */
  add(stats: RoutingStats, layer = 0): this {
    checkDim('RoutingStatsAccumulator.add', 'layer', layer, 0);
    if (stats.numExperts !== this.numExperts) {
      throw new RouterError('shape', 'RoutingStatsAccumulator.add', `stats cover ${stats.numExperts} experts but the accumulator was made for ${this.numExperts}`);
    }
    const s = this.layerSums(layer);
    s.steps++;
    s.tokens += stats.numTokens;
    for (let e = 0; e < this.numExperts; e++) {
      s.load[e] += stats.load[e];
      s.requested[e] += stats.requested[e];
      s.importance[e] += stats.importance[e];
      s.droppedPerExpert[e] += stats.droppedPerExpert[e];
    }
    s.dropped += stats.dropped;
    if (stats.tokenEntropy !== null) {
      s.tokenEntropySum += stats.tokenEntropy * stats.numTokens;
      s.tokenEntropyTokens += stats.numTokens;
    }
    return this;
  }

  /** Adds every layer of another accumulator (e.g. from another worker). */
  merge(other: RoutingStatsAccumulator): this {
    if (other.numExperts !== this.numExperts) throw new RouterError('shape', 'RoutingStatsAccumulator.merge', `other has ${other.numExperts} experts, this ${this.numExperts}`);
    for (const [layer, o] of other.sums) {
      const s = this.layerSums(layer);
      s.steps += o.steps;
      s.tokens += o.tokens;
      s.dropped += o.dropped;
      s.tokenEntropySum += o.tokenEntropySum;
      s.tokenEntropyTokens += o.tokenEntropyTokens;
      for (let e = 0; e < this.numExperts; e++) {
        s.load[e] += o.load[e];
        s.requested[e] += o.requested[e];
        s.importance[e] += o.importance[e];
        s.droppedPerExpert[e] += o.droppedPerExpert[e];
      }
    }
    return this;
  }

  reset(): void {
    this.sums.clear();
  }

  /** Layer ids seen so far, ascending. */
  layers(): number[] {
    return [...this.sums.keys()].sort((a, b) => a - b);
  }

  /** [layers][E] accumulated load fractions, rows in `layers()` order: ready for a heatmap. */
  loadHeatmap(): number[][] {
    return this.toJSON().layers.map((l) => l.loadFraction);
  }

  toJSON(): RoutingStatsJSON {
    const layers = this.layers().map((layer): LayerStatsJSON => {
      const s = this.sums.get(layer) as LayerSums;
      let total = 0;
      for (let e = 0; e < this.numExperts; e++) total += s.load[e];
      return {
        layer,
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
      for (const key of ['load', 'requested', 'importance', 'droppedPerExpert'] as const) {
        if (!Array.isArray(l[key]) || l[key].length !== E) {
          throw new RouterError('shape', 'RoutingStatsAccumulator.fromJSON', `layer ${l.layer}: ${key} must list ${E} numbers`);
        }
      }
      const s = acc.layerSums(l.layer);
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
    return acc;
  }
}
