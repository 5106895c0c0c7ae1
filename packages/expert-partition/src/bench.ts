/**
 * The sparsity dividend for `pnpm bench`: forward time of a k-of-E MoE FFN against the dense FFN
 * it was split from, same tokens, same GEMM backend. Tokens are grouped per expert into
 * contiguous GEMMs, so the ideal ratio is k/E (0.25 for 4-of-16) plus routing overhead.
 */
import { Tensor, createRng, getBackend, noGrad } from '@llama-moe/tensor-core';
import { DenseFeedForward, type ForwardContext } from '@llama-moe/llama-model';
import { NoisyTopKGate } from '@llama-moe/router/modules';
import { MoeFeedForward } from '@llama-moe/router/modules';
import { expertsFromDense } from './index.js';
import { randomPartition } from './partition/random.js';

export interface MoeFfnBench {
  T: number; D: number; F: number; E: number; k: number;
  denseMs: number;
  moeMs: number;
  ratio: number;
  backend: string;
}

export function benchMoeFfn(o: { T?: number; D?: number; F?: number; E?: number; k?: number; reps?: number } = {}): MoeFfnBench {
  const T = o.T ?? 512, D = o.D ?? 4096, F = o.F ?? 11008, E = o.E ?? 16, k = o.k ?? 4, reps = o.reps ?? 5;
  const rng = createRng(1);
  const rand = (n: number, s: number) => { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = (rng.uniform() - 0.5) * s; return a; };
  const gate = rand(F * D, 0.04), up = rand(F * D, 0.04), down = rand(D * F, 0.04);
  const dense = new DenseFeedForward(new Tensor(gate, [F, D]), new Tensor(up, [F, D]), new Tensor(down, [D, F]));
  const parts = randomPartition(F, new Array<number>(E).fill(F / E), { seed: 3 }).experts;
  const experts = expertsFromDense(gate, up, down, D, F, parts);
  const g = new NoisyTopKGate({ hiddenSize: D, numExperts: E, numSelects: k, gateNetwork: 'linear' }, [new Tensor(rand(E * D, 2), [E, D])]);
  const moe = new MoeFeedForward(g, experts, { scoreScale: E / k });
  const x = new Tensor(rand(T * D, 2), [T, D]);
  const ctx: ForwardContext = { training: false, auxLosses: [], layer: 0, records: [], collectStats: false };
  const runDense = () => noGrad(() => dense.forward(x));
  const runMoe = () => noGrad(() => moe.forward(x, ctx));
  const timed = (f: () => void) => { const t0 = performance.now(); f(); return performance.now() - t0; };
  // one warm-up each, then alternate so that both see the same swings of a shared machine; best of each
  runDense();
  runMoe();
  let denseMs = Infinity, moeMs = Infinity;
  for (let r = 0; r < reps; r++) {
    denseMs = Math.min(denseMs, timed(runDense));
    moeMs = Math.min(moeMs, timed(runMoe));
  }
  return { T, D, F, E, k, denseMs, moeMs, ratio: moeMs / denseMs, backend: getBackend() };
}

export { benchClustering, type BenchClusteringOptions } from './partition/clustering.js';
