/**
 * Section 2, prefill and decode (@llama-moe/llama-model) beside llama.cpp (node-llama-cpp 3.21.1,
 * prebuilt CPU build): the stories15M and stories110M shapes, dense and a 4-of-16 MoE of the same
 * shape (random weights), f32, 2 threads, on the fastest backend chain (native → wasm → cpu).
 * Each model runs in a fresh child process (llamacpp-child.mjs) that writes it as GGUF with the
 * project's own writer, loads that file in llama.cpp and alternates rounds of ours and llama.cpp:
 * prefill of a 128- and a 512-token prompt (one forward), and decode (128-token prompt, then 64
 * greedy one-token steps with the KV cache). Rows are ours / llama.cpp in tokens/s (best round of
 * each), plus the sparsity dividend at decode (MoE ÷ dense of the same shape) for both engines.
 * For reference, the wasm backend alone (a browser's) and the plain TypeScript cpu backend's prefill and
 * decode on stories15M (no peer).
 */
import { attempt, CACHE_DIR, log, pkg, row, runChild } from './util.mjs';

const TOKS = 'tok/s';
const E = 16;
const K = 4;
const PREFILL = [128, 512];
const DECODE_PROMPT = 128;
const DECODE_TOKENS = 64;
const THREADS = 2;

const GOAL_DECODE = '>= 1.0';
const GOAL_PREFILL = '>= 0.8';
const GOAL_DIVIDEND = '>= 1.5';

/**
 * @param {{ chain: string[], presets: string[], rounds?: number }} o
 */
export async function llamaCppSection(o) {
  const rows = [];
  const rounds = o.rounds ?? 5;
  /** decode tok/s per preset and engine, for the dividend rows */
  const decodeTps = {};
  for (const preset of o.presets) {
    for (const experts of [0, E]) {
      const kind = experts ? `MoE ${K}/${E}` : 'dense';
      const label = `${preset} ${kind}`;
      const names = [
        ...PREFILL.map((T) => ({ name: `prefill ${T} tokens ${label} vs llama.cpp`, unit: TOKS, goal: GOAL_PREFILL })),
        { name: `decode ${label} vs llama.cpp`, unit: TOKS, goal: GOAL_DECODE },
      ];
      log(`inference: ${label}, ours vs llama.cpp (${rounds} alternated rounds, child process)`);
      await attempt(rows, names, () => {
        const r = runChild('llamacpp-child.mjs', {
          preset, experts, topK: K, rounds, prefill: PREFILL, decodePrompt: DECODE_PROMPT, decodeTokens: DECODE_TOKENS,
          chain: o.chain.filter((b) => b !== 'cpu'), threads: THREADS, dir: CACHE_DIR,
        }, { timeoutMs: 900_000 });
        const best = (ms) => Math.min(...ms);
        const list = (ms) => ms.map((x) => x.toFixed(0)).join(', ');
        const common = `${(r.params / 1e6).toFixed(1)}M params, f32, random weights; llama.cpp ${r.llamaCpp} (node-llama-cpp, CPU, ${THREADS} threads, f32 KV cache, no flash attention) on the GGUF our writer made; ours on ${r.chain.join('→')} (matmul on ${r.backend}), ${r.pinnedThreads ? `weights pinned (model.pinWeights(), as \`llama-moe generate\` does: decode reads the large ones in place on ${r.pinnedThreads} thread(s))` : 'weights not pinned (no weight arena here)'}; best of ${rounds} alternated rounds`;
        const out = PREFILL.map((T) => row(`prefill ${T} tokens ${label} vs llama.cpp`, (T * 1000) / best(r.ours.prefill[T]), (T * 1000) / best(r.peer.prefill[T]), TOKS, {
          goal: GOAL_PREFILL,
          note: `one forward of a ${T}-token prompt (ms ours ${list(r.ours.prefill[T])}; llama.cpp ${list(r.peer.prefill[T])}); ${common}`,
        }));
        const ours = (DECODE_TOKENS * 1000) / best(r.ours.decode);
        const peer = (DECODE_TOKENS * 1000) / best(r.peer.decode);
        decodeTps[label] = { ours, peer, weightsPerToken: r.weightsPerToken };
        out.push(row(`decode ${label} vs llama.cpp`, ours, peer, TOKS, {
          goal: GOAL_DECODE,
          note: `${DECODE_TOKENS} greedy one-token steps with the KV cache after a ${DECODE_PROMPT}-token prompt (ms ours ${list(r.ours.decode)}; llama.cpp ${list(r.peer.decode)}); ${common}; for reference llama.cpp on 1 thread: ${((DECODE_TOKENS * 1000) / r.peerDecode1T).toFixed(1)} tok/s (its threads meet at a barrier after every op, so a 2-thread figure far below the 1-thread one means another process held a core)`,
        }));
        return out;
      });
    }
    const d = decodeTps[`${preset} dense`], m = decodeTps[`${preset} MoE ${K}/${E}`];
    const name = `sparsity dividend at decode ${preset} (MoE ${K}/${E} ÷ dense of the same shape)`;
    rows.push(row(`${name}: ours`, d && m ? m.ours / d.ours : null, null, '×', {
      goal: GOAL_DIVIDEND,
      ratio: d && m ? m.ours / d.ours : null,
      note: d && m ? `ours MoE ${m.ours.toFixed(1)} ÷ dense ${d.ours.toFixed(1)} tok/s (decode rows above); the FFN is ${((K / E) * 100).toFixed(0)} % as large per token, attention and the LM head are not: a decode step reads ${(d.weightsPerToken / 1e6).toFixed(1)}M weights dense, ${(m.weightsPerToken / 1e6).toFixed(1)}M MoE, so a bandwidth-bound decoder gains at most ${(d.weightsPerToken / m.weightsPerToken).toFixed(2)}×` : 'a decode row above failed',
    }));
    rows.push(row(`${name}: llama.cpp`, d && m ? m.peer / d.peer : null, null, '×', {
      ratio: d && m ? m.peer / d.peer : null,
      note: d && m ? `llama.cpp MoE ${m.peer.toFixed(1)} ÷ dense ${d.peer.toFixed(1)} tok/s (decode rows above)` : 'a decode row above failed',
    }));
  }
  return rows;
}

/**
 * For reference, without a peer: the WebAssembly backend alone (what a browser runs: SIMD GEMM with
 * its worker pool, the matrix–vector kernel for decode) and the plain TypeScript oracle (cpu).
 */
export async function oracleSection(o) {
  const rows = [];
  const tc = await pkg('tensor-core');
  const lm = await pkg('llama-model');
  const chain = tc.getBackendChain();
  if (tc.getKernel('matmul', 'wasm')) {
    tc.setBackend(['wasm', 'cpu']);
    for (const preset of o.presets) {
      log(`inference: ${preset} on the wasm backend alone`);
      await attempt(rows, [
        { name: `prefill ${preset} dense (wasm only, a browser's backend)`, unit: TOKS },
        { name: `decode ${preset} dense (wasm only, a browser's backend)`, unit: TOKS },
      ], () => {
        // best of 3 (one run once read 302 tok/s against 930–2300 in a fresh process: this runs in the bench's own process)
        const rs = [0, 1, 2].map(() => lm.benchInference(preset, { copyBandwidth: 1 }));
        const r = rs[0];
        const pre = rs.map((x) => x.prefillTokPerSec), dec = rs.map((x) => x.decodeTokPerSec);
        const list = (xs) => xs.map((x) => x.toFixed(0)).join(', ');
        return [
          row(`prefill ${preset} dense (wasm only, a browser's backend)`, Math.max(...pre), null, TOKS, { note: `${r.prefillTokens}-token prompt, one forward, best of 3 runs (${list(pre)} tok/s); WebAssembly SIMD, no native code` }),
          row(`decode ${preset} dense (wasm only, a browser's backend)`, Math.max(...dec), null, TOKS, { note: `${r.decodeTokens} greedy tokens with the KV cache, best of 3 runs (${list(dec)} tok/s); the matrix–vector kernel on the calling thread (weights not pinned)` }),
        ];
      });
    }
  }
  tc.setBackend(['cpu']);
  for (const preset of o.presets) {
    log(`inference: ${preset} on the plain TypeScript cpu backend`);
    await attempt(rows, [
      { name: `prefill ${preset} dense (cpu, plain TypeScript)`, unit: TOKS },
      { name: `decode ${preset} dense (cpu, plain TypeScript)`, unit: TOKS },
    ], () => {
      const r = lm.benchInference(preset, { copyBandwidth: 1 });
      return [
        row(`prefill ${preset} dense (cpu, plain TypeScript)`, r.prefillTokPerSec, null, TOKS, { note: `${r.prefillTokens}-token prompt, one forward, one run` }),
        row(`decode ${preset} dense (cpu, plain TypeScript)`, r.decodeTokPerSec, null, TOKS, { note: `${r.decodeTokens} greedy tokens with the KV cache, one run` }),
      ];
    });
  }
  tc.setBackend(chain);
  return rows;
}
