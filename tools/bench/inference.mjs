/**
 * Section 2, prefill and decode (@llama-moe/llama-model): benchInference on the stories15M and
 * stories110M shapes (random weights, 128-token prompt, 32 decoded tokens), on the fastest
 * backend chain (native → wasm → cpu) and, for reference, on the plain TypeScript cpu backend.
 * Decode is compared with its memory-bandwidth bound: every f32 weight byte is read once per
 * token, so tokens/s ≤ copy bandwidth ÷ weight bytes, with the bandwidth of this same run.
 */
import { attempt, log, pkg, row } from './util.mjs';

const TOKS = 'tok/s';

/** @param {{ copyBytesPerSec: number | null, chain: string[], chainLabel: string, presets: string[] }} o */
export async function inferenceSection(o) {
  const rows = [];
  const tc = await pkg('tensor-core');
  const lm = await pkg('llama-model');
  tc.setBackend(o.chain);
  try {
    for (const preset of o.presets) {
      const label = `${preset} (${o.chainLabel})`;
      log(`inference: ${label}`);
      await attempt(rows, [
        { name: `prefill ${label}`, unit: TOKS },
        { name: `decode ${label} vs bandwidth bound`, unit: TOKS, goal: '>= 0.5' },
      ], () => {
        const r = lm.benchInference(preset, o.copyBytesPerSec ? { copyBandwidth: o.copyBytesPerSec } : {});
        const used = tc.lastBackend('matmul');
        const mb = (r.weightBytes / 2 ** 20).toFixed(0);
        return [
          row(`prefill ${label}`, r.prefillTokPerSec, null, TOKS, { note: `${r.prefillTokens}-token prompt, one forward; last matmul ran on ${used}` }),
          row(`decode ${label} vs bandwidth bound`, r.decodeTokPerSec, r.decodeBoundTokPerSec, TOKS, {
            goal: '>= 0.5',
            note: `${r.decodeTokens} greedy tokens with KV cache; bound = copy bandwidth / ${mb} MiB of f32 weights (${(r.params / 1e6).toFixed(1)}M params)`,
          }),
        ];
      });
    }
  } finally {
    tc.setBackend(['cpu']);
  }
  return rows;
}
