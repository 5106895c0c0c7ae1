/**
 * Training-step throughput: forward + backward + clip + AdamW on random token ids, each step
 * timed after one warm-up step, the median reported. The model is updated in place (pass a
 * throwaway model).
 */
import { performance } from 'node:perf_hooks';
import { createRng } from '@llama-moe/tensor-core';
import { trainingFlopsPerToken } from './flops.js';
import type { TrainableModel } from './model.js';
import { AdamW } from './optim/adamw.js';
import { clipCoefficient, globalGradNorm } from './optim/clip.js';
import { forwardBackward, zeroGrad } from './step.js';

export interface BenchTrainResult {
  batch: number;
  seqLen: number;
  steps: number;
  /** Median over the timed steps. */
  msPerStep: number;
  /** Each timed step, in order. */
  stepMs: number[];
  tokensPerSec: number;
  /** Model FLOPs (PaLM formula) per second, in GFLOP/s. */
  gflopsPerSec: number;
  flopsPerToken: number;
}

export function benchTrainStep(model: TrainableModel, opts: { batch?: number; seqLen?: number; steps?: number; seed?: number } = {}): BenchTrainResult {
  const B = opts.batch ?? 4;
  const T = opts.seqLen ?? Math.min(128, model.config.max_position_embeddings);
  const steps = opts.steps ?? 3;
  const V = model.config.vocab_size;
  const rng = createRng(opts.seed ?? 0);
  model.setTrainable(true);
  const named = model.namedParameters();
  const opt = new AdamW({ beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1 });
  const one = () => {
    /** [B, T] */
    const ids = new Int32Array(B * T);
    for (let i = 0; i < ids.length; i++) ids[i] = rng.int(V);
    zeroGrad(named.map(([, t]) => t));
    forwardBackward(model, [{ inputIds: ids, batchSize: B, seqLen: T }]);
    const norm = globalGradNorm(named.map(([, t]) => t));
    opt.step(named, 1e-5, { gradScale: clipCoefficient(norm, 1) });
  };
  one();
  const stepMs: number[] = [];
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    one();
    stepMs.push(performance.now() - t0);
  }
  // the median step: robust to a step that a shared machine's neighbour slowed down, without
  // picking the luckiest one
  const sorted = [...stepMs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const msPerStep = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const flopsPerToken = trainingFlopsPerToken(model, T);
  const tokensPerSec = (B * T * 1000) / msPerStep;
  return { batch: B, seqLen: T, steps, msPerStep, stepMs, tokensPerSec, gflopsPerSec: (tokensPerSec * flopsPerToken) / 1e9, flopsPerToken };
}
