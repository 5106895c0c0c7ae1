/**
 * Section 4, training (@llama-moe/trainer): forward + backward + AdamW steps of stories15M- and
 * stories110M-shaped 4-of-16 LLaMA-MoE models (random dense weights split with `random`,
 * random gates), on the fastest backend chain. Achieved GFLOP/s = model FLOPs per token
 * (trainer's modelFlopsPerToken) × tokens/s; the peer is this run's native GEMM peak (the best of
 * its 1024³, expert and FFN figures).
 * Each preset runs in a fresh child process (train-child.mjs) on the same backend chain, under the
 * node flags `llama-moe train` runs with (COMPUTE_NODE_FLAGS, the CLI's `llama-moe/node-flags` export).
 */
import { COMPUTE_NODE_FLAGS } from 'llama-moe/node-flags';
import { attempt, log, row, runChild } from './util.mjs';

/** Batch, sequence length and timed steps per preset (the median step is reported): one 512-token micro-batch per optimizer step (no gradient accumulation, so the optimizer's cost is not amortised), ~40 s for both on 2 cores. */
const PLANS = [
  { preset: 'stories15M', batch: 4, seqLen: 128, steps: 5 },
  { preset: 'stories110M', batch: 4, seqLen: 128, steps: 4 },
];
const E = 16;
const K = 4;

/** @param {{ peakGflops: number | null, chain: string[], chainLabel: string }} o */
export async function trainSection(o) {
  const rows = [];
  for (const p of PLANS) {
    const label = `${p.preset}-shaped MoE ${K}/${E}, batch ${p.batch} x ${p.seqLen}`;
    log(`training: ${label} (${p.steps} steps after a warm-up, child process)`);
    await attempt(rows, [
      { name: `train step ${label}: tokens/s`, unit: 'tok/s' },
      { name: `train step ${label}: achieved vs GEMM peak`, unit: 'GFLOP/s', goal: '>= 0.5' },
    ], async () => {
      const r = runChild('train-child.mjs', { preset: p.preset, batch: p.batch, seqLen: p.seqLen, steps: p.steps, experts: E, topK: K, chain: o.chain.filter((b) => b !== 'cpu') }, { nodeFlags: [...COMPUTE_NODE_FLAGS] });
      return [
        row(`train step ${label}: tokens/s`, r.tokensPerSec, null, 'tok/s', { note: `median of ${r.stepMs.length} steps ${r.msPerStep.toFixed(0)} ms (steps ${r.stepMs.map((x) => x.toFixed(0)).join(', ')} ms; matmul on ${r.backend}), forward + backward + clip + AdamW; node ${COMPUTE_NODE_FLAGS.join(' ')} as in \`llama-moe train\`` }),
        row(`train step ${label}: achieved vs GEMM peak`, r.gflopsPerSec, o.peakGflops, 'GFLOP/s', {
          goal: '>= 0.5',
          note: `${(r.flopsPerToken / 1e6).toFixed(1)} MFLOP/token (model FLOPs); peer = this run's best native GEMM GFLOP/s (1024³, expert and FFN shapes)`,
        }),
      ];
    });
  }
  return rows;
}
