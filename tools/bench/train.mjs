/**
 * Section 4, training (@llama-moe/trainer): forward + backward + AdamW steps of stories15M- and
 * stories110M-shaped 4-of-16 LLaMA-MoE models (random dense weights split with `random`,
 * random gates), on the fastest backend chain. Achieved GFLOP/s = model FLOPs per token
 * (trainer's modelFlopsPerToken) × tokens/s; the peer is this run's native 1024³ GEMM peak.
 */
import { attempt, log, pkg, row } from './util.mjs';

/** Batch, sequence length and timed steps per preset: one 512-token micro-batch per optimizer step (no gradient accumulation, so the optimizer's cost is not amortised), ~25 s for both on 2 cores. */
const PLANS = [
  { preset: 'stories15M', batch: 4, seqLen: 128, steps: 2 },
  { preset: 'stories110M', batch: 4, seqLen: 128, steps: 2 },
];
const E = 16;
const K = 4;

/** A throwaway 4/16 MoE built from a random dense model of the preset's shape. */
async function buildMoe(preset) {
  const lm = await pkg('llama-model');
  const ep = await pkg('expert-partition');
  const cfg = lm.presetConfig(preset);
  const dense = lm.LlamaForCausalLM.random(cfg, { seed: 1 });
  const L = cfg.num_hidden_layers, F = cfg.intermediate_size;
  const sizes = ep.resolveSizes(F, E);
  const partition = Array.from({ length: L }, (_, layer) => ep.randomPartition(F, sizes, { seed: 0, layer }).experts);
  const spec = { ...ep.defaultMoeSpec(L, F, E, K), sizeExperts: Array.from({ length: L }, () => [...sizes]) };
  return ep.buildMoeFromDense(dense, { spec, format: 'llama-moe', partition, gateInit: 'random', seed: 0, method: 'random' });
}

/** @param {{ peakGflops: number | null, chain: string[], chainLabel: string }} o */
export async function trainSection(o) {
  const rows = [];
  const tc = await pkg('tensor-core');
  const tr = await pkg('trainer');
  tc.setBackend(o.chain);
  try {
    for (const p of PLANS) {
      const label = `${p.preset}-shaped MoE ${K}/${E}, batch ${p.batch} x ${p.seqLen}`;
      log(`training: ${label} (${p.steps} steps after a warm-up)`);
      await attempt(rows, [
        { name: `train step ${label}: tokens/s`, unit: 'tok/s' },
        { name: `train step ${label}: achieved vs GEMM peak`, unit: 'GFLOP/s', goal: '>= 0.5' },
      ], async () => {
        const model = await buildMoe(p.preset);
        const r = tr.benchTrainStep(model, { batch: p.batch, seqLen: p.seqLen, steps: p.steps });
        return [
          row(`train step ${label}: tokens/s`, r.tokensPerSec, null, 'tok/s', { note: `${r.msPerStep.toFixed(0)} ms/step (${o.chainLabel}), forward + backward + clip + AdamW` }),
          row(`train step ${label}: achieved vs GEMM peak`, r.gflopsPerSec, o.peakGflops, 'GFLOP/s', {
            goal: '>= 0.5',
            note: `${(r.flopsPerToken / 1e6).toFixed(1)} MFLOP/token (model FLOPs); peer = native 1024³ GEMM GFLOP/s of this run`,
          }),
        ];
      });
    }
  } finally {
    tc.setBackend(['cpu']);
  }
  return rows;
}
