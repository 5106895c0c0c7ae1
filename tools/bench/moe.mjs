/**
 * Section 3, the sparsity dividend (@llama-moe/expert-partition): forward time of a 4-of-16 MoE
 * FFN against the dense FFN it was split from (T=512, D=4096, F=11008), same tokens, on the
 * fast backend chain (native GEMM; the wasm backend runs the combine scatter-add and SwiGLU), in a
 * fresh child process (moe-child.mjs). Ideal ratio k/E = 0.25; issue 10 asks ≤ 0.35.
 */
import { attempt, log, row, runChild } from './util.mjs';

/** @param {{ chain: string[] }} o the fast backend chain (native → wasm: wasm runs the MoE combine) */
export async function moeSection(o = { chain: [] }) {
  const rows = [];
  const cfg = { T: 512, D: 4096, F: 11008, E: 16, k: 4 };
  const name = `MoE FFN forward ${cfg.k}/${cfg.E} vs dense (T=${cfg.T}, D=${cfg.D}, F=${cfg.F})`;
  log(`sparsity: ${name} (child process)`);
  await attempt(rows, [{ name, unit: 'ms', goal: '<= 0.35' }], () => {
    const r = runChild('moe-child.mjs', { ...cfg, reps: 5, chain: o.chain });
    return [row(name, r.moeMs, r.denseMs, 'ms', {
      goal: '<= 0.35',
      note: `ours = MoE ms, peer = dense ms (best of 5 alternating runs after a warm-up, in a fresh child), backends ${r.chain.join('→')} (combine on ${r.combine}); ideal ratio ${cfg.k}/${cfg.E} = ${(cfg.k / cfg.E).toFixed(2)}`,
    })];
  });
  return rows;
}
