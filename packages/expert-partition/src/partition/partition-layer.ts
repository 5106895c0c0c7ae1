/**
 * One entry point for every construction method: resolves sizes, checks that the inputs the
 * method needs are present (naming the CLI flag that provides them), dispatches, and validates the
 * result before handing it back.
 */
import { ActivationStats, carvePartition, carveSizes, defaultCarveSharedSize } from './carve.js';
import { CoActivationAccumulator } from './coactivation.js';
import { clusteringPartition } from './clustering.js';
import { PartitionError, atLayer, checkPositiveInt, type FloatArray } from './errors.js';
import { gradientPartition, sharingInnerPartition, sharingInterPartition } from './gradient.js';
import type { CsrGraph } from './graph.js';
import { graphPartition } from './graph-partition.js';
import { ImportanceAccumulator } from './importance.js';
import type { KMeansMetric } from './kmeans.js';
import { randomPartition, upcyclePartition } from './random.js';
import { resolveSizes } from './sizes.js';
import { PARTITION_METHODS, type NeuronPartition, type PartitionMethod } from './types.js';
import { validatePartition } from './validate.js';

export interface PartitionInputs {
  /** `mlp.up_proj.weight` of the layer, [F, D] row-major (clustering). */
  upProj?: Float32Array;
  /** Co-activation statistics or a prepared graph over the F neurons (graph). */
  coActivation?: CoActivationAccumulator | CsrGraph;
  /** Importance [E, F] per data cluster, or the accumulator holding it (gradient, sharing-*). */
  importance?: FloatArray | ImportanceAccumulator;
  /** Top-K activation statistics over calibration tokens (carve). */
  activation?: ActivationStats;
}

export interface PartitionOptions {
  /** intermediate_size F */
  intermediateSize: number;
  /** hidden_size D (clustering) */
  hiddenSize?: number;
  /** num_experts E (routed experts) */
  numExperts: number;
  /** size_experts for this layer; default F/E (sharing-inter: (F − Σ sharedSizes)/E). */
  sizeExperts?: number[] | null;
  seed?: number;
  layer?: number;
  /** clustering */
  metric?: KMeansMetric;
  maxIter?: number;
  tol?: number;
  /** graph: neighbours kept per neuron when sparsifying co-activations (default 64). */
  graphTopK?: number;
  /** sharing-inter: sizes of the always-on shared experts; carve: one shared expert of sharedSizes[0] (default F/(E+1), [] or [0]: none). */
  sharedSizes?: number[];
}

export function partitionLayer(method: PartitionMethod, inputs: PartitionInputs, opts: PartitionOptions): NeuronPartition {
  const op = 'partitionLayer';
  const { layer } = opts;
  const L = atLayer(layer);
  const F = opts.intermediateSize;
  const E = opts.numExperts;
  checkPositiveInt(op, 'intermediate_size', F, layer);
  checkPositiveInt(op, 'num_experts', E, layer);
  if (!PARTITION_METHODS.includes(method)) {
    throw new PartitionError(op, `unknown method '${String(method)}'; expected one of ${PARTITION_METHODS.join(', ')}${L}`, { layer });
  }
  const seed = opts.seed ?? 0;
  let p: NeuronPartition;
  switch (method) {
    case 'random':
      p = randomPartition(F, resolveSizes(F, E, opts.sizeExperts, { layer }), { seed, layer });
      break;
    case 'upcycle':
      p = upcyclePartition(F, E);
      break;
    case 'drop-upcycle':
      // The partition of drop-upcycle is upcycle's; the re-initialisation happens on the weights.
      p = { ...upcyclePartition(F, E), method: 'drop-upcycle' };
      break;
    case 'carve': {
      const stats = inputs.activation;
      if (!stats) throw new PartitionError(op, `method 'carve' needs activation statistics from calibration data (--data)${L}`, { layer });
      if (stats.F !== F) throw new PartitionError(op, `activation statistics cover ${stats.F} neurons but intermediate_size is ${F}${L}`, { layer });
      const shared = opts.sharedSizes === undefined ? defaultCarveSharedSize(F, E) : (opts.sharedSizes[0] ?? 0);
      if (opts.sharedSizes && opts.sharedSizes.length > 1) throw new PartitionError(op, `method 'carve' builds one shared expert; got ${opts.sharedSizes.length} shared sizes${L}`, { layer });
      if (!Number.isInteger(shared) || shared < 0 || shared > F - E) throw new PartitionError(op, `carve: shared size must be an integer in [0, ${F - E}] (F − E), got ${shared}${L}`, { layer });
      const sizes = opts.sizeExperts ? resolveSizes(F - shared, E, opts.sizeExperts, { layer }) : carveSizes(F, E, shared);
      p = carvePartition(stats, sizes, shared, { seed, layer, maxIter: opts.maxIter });
      break;
    }
    case 'clustering': {
      if (!inputs.upProj) throw new PartitionError(op, `method 'clustering' needs the layer's mlp.up_proj.weight (--model)${L}`, { layer });
      const D = opts.hiddenSize ?? inputs.upProj.length / F;
      if (!Number.isInteger(D) || D < 1) throw new PartitionError(op, `mlp.up_proj.weight has ${inputs.upProj.length} values, not a multiple of intermediate_size ${F}${L}`, { layer });
      const sizes = resolveSizes(F, E, opts.sizeExperts, { layer });
      p = clusteringPartition(inputs.upProj, F, D, sizes, { seed, layer, metric: opts.metric, maxIter: opts.maxIter, tol: opts.tol });
      break;
    }
    case 'graph': {
      const src = inputs.coActivation;
      if (!src) throw new PartitionError(op, `method 'graph' needs calibration data (--data) for the co-activation graph${L}`, { layer });
      if (src instanceof CoActivationAccumulator && src.tokens === 0) {
        throw new PartitionError(op, `method 'graph' got a co-activation accumulator without tokens; feed calibration data (--data)${L}`, { layer });
      }
      const g = src instanceof CoActivationAccumulator ? src.toGraph({ topK: opts.graphTopK }) : src;
      p = graphPartition(g, F, resolveSizes(F, E, opts.sizeExperts, { layer }), { seed, layer });
      break;
    }
    case 'gradient':
    case 'sharing-inner':
    case 'sharing-inter': {
      const src = inputs.importance;
      if (!src) throw new PartitionError(op, `method '${method}' needs neuron importance from calibration data (--data) with gradients${L}`, { layer });
      const importance = src instanceof ImportanceAccumulator ? src.scores() : src;
      if (method === 'gradient') {
        p = gradientPartition(importance, F, resolveSizes(F, E, opts.sizeExperts, { layer }), { layer });
      } else if (method === 'sharing-inner') {
        p = sharingInnerPartition(importance, F, resolveSizes(F, E, opts.sizeExperts, { layer, requireSum: false }), { layer });
      } else {
        const shared = opts.sharedSizes;
        if (!shared || shared.length === 0) throw new PartitionError(op, `method 'sharing-inter' needs sharedSizes (the always-on shared experts' sizes)${L}`, { layer });
        const sharedTotal = shared.reduce((a, b) => a + b, 0);
        if (sharedTotal >= F) throw new PartitionError(op, `sharedSizes sum to ${sharedTotal} but intermediate_size is only ${F}${L}`, { layer });
        const sizes = resolveSizes(F - sharedTotal, E, opts.sizeExperts, { layer });
        p = sharingInterPartition(importance, F, sizes, shared, { layer });
      }
      break;
    }
  }
  return validatePartition(p, F, { layer });
}
