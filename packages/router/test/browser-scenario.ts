/**
 * A small end-to-end routing computation run twice by browser.test.ts: once in Node against the
 * sources, once in headless Chromium against the esbuild browser bundle. It takes the module as
 * an argument (type-only import) so the same code runs in both places, and returns plain JSON.
 */
import type * as Router from '../src/index.js';

export interface ScenarioResult {
  uniforms: number[];
  noisyIndices: number[];
  noisyScores: number[];
  load: number[];
  balanceLoss: number;
  dLogits: number[];
  switchIndices: number[];
  switchDropped: number;
  switchLoss: number;
  mixtralIndices: number[];
  mixtralWeights: number[];
  auxLoss: number;
  expertChoiceTokens: number[];
  zLoss: number;
  moeOut: number[];
  stats: unknown;
}

export function runScenario(R: typeof Router, seed: number): ScenarioResult {
  const T = 13;
  const E = 5;
  const k = 2;
  const D = 3;
  const rng = R.createRng(seed);
  const uniforms = Array.from({ length: 8 }, () => rng.uniform());
  /** [T, E] */ const logits = rng.fillNormal(new Float32Array(T * E), 0, 1.5);
  /** [T, E] */ const noiseStd = R.noiseControl(rng.fillNormal(new Float32Array(T * E)), 0.01);
  /** [T, E] */ const eps = rng.fillNormal(new Float32Array(T * E));
  const noisy = R.noisyTopKGate(logits, E, { num_selects: k, noise: { noise_std: noiseStd, eps } });
  const back = R.noisyTopKBackward(noisy, { dBalanceLoss: 1 });
  const sw = R.switchGate(logits, E, { capacity_factor: 1 });
  const mx = R.mixtralGate(logits, E, { num_experts_per_tok: k });
  const ec = R.expertChoiceGate(logits, E, { capacity_factor: 1 });
  const z = R.routerZLoss(logits, E);
  /** [T, D] */ const x = rng.fillNormal(new Float32Array(T * D));
  const plan = R.buildDispatch(noisy.topkIndices, noisy.topkScores, E, k, { capacity: 5, n_shared_experts: 1 });
  const out = R.moeForward(x, plan, (e, rows, n) => {
    const y = new Float32Array(n * D);
    for (let i = 0; i < n * D; i++) y[i] = Math.tanh(rows[i] * (e + 1));
    return y;
  }, { score_scale_factor: R.resolveScoreScale(undefined, 0, E, k) });
  const acc = new R.RoutingStatsAccumulator(E);
  acc.add(R.routingStats(plan, E, { logits }), 0);
  acc.add(R.routingStats(mx, E, { probs: mx.probs }), 1);
  return {
    uniforms,
    noisyIndices: Array.from(noisy.topkIndices),
    noisyScores: Array.from(noisy.topkScores),
    load: Array.from(noisy.load),
    balanceLoss: noisy.balanceLoss,
    dLogits: Array.from(back.dLogits),
    switchIndices: Array.from(sw.topkIndices),
    switchDropped: sw.droppedTokens,
    switchLoss: sw.balanceLoss,
    mixtralIndices: Array.from(mx.topkIndices),
    mixtralWeights: Array.from(mx.topkScores),
    auxLoss: mx.auxLoss,
    expertChoiceTokens: Array.from(ec.tokenIndices),
    zLoss: z.loss,
    moeOut: Array.from(out),
    stats: acc.toJSON(),
  };
}
