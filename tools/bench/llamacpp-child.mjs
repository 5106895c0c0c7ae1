/**
 * Child: our prefill / decode beside llama.cpp's (node-llama-cpp 3.21.1, prebuilt CPU build,
 * `getLlama({ gpu: false, build: 'never' })`) on the same model, in one fresh process.
 *
 * The model is a preset shape with random weights (seed 1), dense or split into an MoE (random
 * partition, linear top-k gate without noise: what llama.cpp's `llama` MoE runs). It is written
 * as f32 GGUF by the project's own writer (expert-partition's writeMoeGguf, the writer behind
 * `llama-moe export --format gguf`) with a small generated tokenizer padded to the vocab size.
 * llama.cpp runs it with 2 threads, an f32 KV cache and no flash attention (as ours: f32
 * everywhere). Rounds alternate ours / llama.cpp; the best round of each is reported.
 *
 * Args: { preset, experts (0 = dense), topK, rounds, prefill: number[], decodePrompt, decodeTokens,
 *         chain, threads, dir }.
 * Result: { ours: { prefill: {T: ms[]}, decode: ms[] }, peer: same, params, ggufBytes, ... }.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { childMain, importPkg } from './child-common.mjs';
import { ROOT } from './util.mjs';

await childMain(async (a) => {
  const tc = await importPkg('tensor-core');
  const lm = await importPkg('llama-model');
  const ep = await importPkg('expert-partition');
  const ready = await tc.useDefaultBackend({ prefer: a.chain });

  const maxT = Math.max(...a.prefill, a.decodePrompt + a.decodeTokens + 1);
  // stories15M's 256-token context is too short for the 512-token prefill: RoPE has no table,
  // so a longer context changes nothing else
  const cfg = lm.parseLlamaConfig({ ...lm.presetConfig(a.preset), max_position_embeddings: Math.max(1024, maxT) });
  const dense = lm.LlamaForCausalLM.random(cfg, { seed: 1 });
  let model = dense;
  if (a.experts > 0) {
    const L = cfg.num_hidden_layers, F = cfg.intermediate_size;
    const sizes = ep.resolveSizes(F, a.experts);
    const partition = Array.from({ length: L }, (_, layer) => ep.randomPartition(F, sizes, { seed: 0, layer }).experts);
    const spec = { ...ep.defaultMoeSpec(L, F, a.experts, a.topK), gateNetwork: 'linear', gateAddNoise: false, sizeExperts: Array.from({ length: L }, () => [...sizes]) };
    model = ep.buildMoeFromDense(dense, { spec, format: 'llama-moe', partition, gateInit: 'random', seed: 0, method: 'random' });
  }
  model.setTrainable?.(false);
  const params = model.parameters().reduce((s, p) => s + p.size, 0);
  // weights one decode step reads: everything but the embedding table (one row) and, in an MoE,
  // the experts the token was not routed to (the bandwidth-bound ideal of the sparsity dividend)
  const D = cfg.hidden_size, L = cfg.num_hidden_layers, Hq = cfg.num_attention_heads, Hkv = cfg.num_key_value_heads ?? Hq;
  const hd = cfg.head_dim ?? D / Hq;
  const attn = L * (2 * D * Hq * hd + 2 * D * Hkv * hd);
  const ffn = L * 3 * D * cfg.intermediate_size * (a.experts > 0 ? a.topK / a.experts : 1) + (a.experts > 0 ? L * D * a.experts : 0);
  const weightsPerToken = attn + ffn + cfg.vocab_size * D + (2 * L + 1) * D;

  const tr = lm.trainLlamaTokenizer(lm.sampleTokenizerTexts({ seed: 7, count: 60 }), { vocabSize: 384, style: 'llama2', padToVocabSize: true });
  const tok = new lm.Tokenizer({ tokenizerJson: tr.tokenizerJson, tokenizerConfig: tr.tokenizerConfig });
  mkdirSync(a.dir, { recursive: true });
  const file = join(a.dir, `${a.preset}-${a.experts ? `moe${a.topK}of${a.experts}` : 'dense'}-${process.pid}.gguf`);
  const w0 = performance.now();
  const written = ep.writeMoeGguf(model, file, { tokenizer: tok, outtype: 'f32' });
  const writeMs = performance.now() - w0;
  // as `llama-moe generate` does: the weights move into a WebAssembly arena, so decode's large
  // matrix–vector products read them in place on both threads (prefill copies them for onnxruntime)
  const pinned = await model.pinWeights();

  const nlc = await import(pathToFileURL(join(ROOT, 'packages', 'llama-model', 'node_modules', 'node-llama-cpp', 'dist', 'index.js')).href);
  const llama = await nlc.getLlama({ gpu: false, build: 'never', logLevel: nlc.LlamaLogLevel.error, progressLogs: false });
  const lmodel = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
  const ctxSize = Math.max(1024, maxT);
  const newContext = (threads = a.threads) => lmodel.createContext({
    contextSize: ctxSize, batchSize: Math.max(...a.prefill, a.decodePrompt), threads,
    flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32',
  });

  // token ids of the generated tokenizer's real vocabulary (not the padding), BOS first
  let s = 12345;
  const prompt = (n) => [1, ...Array.from({ length: n - 1 }, () => 3 + ((s = (s * 1103515245 + 12345) % 2147483648) % 381))];
  const prompts = Object.fromEntries(a.prefill.map((T) => [T, prompt(T)]));
  const decodePrompt = prompt(a.decodePrompt);

  const ours = {
    prefill: (T) => lm.generate(model, prompts[T], { maxNewTokens: 1, stopTokens: [] }).prefillMs,
    decode: () => {
      const r = lm.generate(model, decodePrompt, { maxNewTokens: a.decodeTokens + 1, stopTokens: [] });
      if (r.tokens.length !== a.decodeTokens + 1) throw new Error(`ours decoded ${r.tokens.length - 1} tokens, expected ${a.decodeTokens}`);
      return r.decodeMs;
    },
  };
  const peer = {
    prefill: async (T) => {
      const ctx = await newContext();
      try {
        const seq = ctx.getSequence();
        const t0 = performance.now();
        await seq.evaluateWithoutGeneratingNewTokens(prompts[T]);
        return performance.now() - t0;
      } finally {
        await ctx.dispose();
      }
    },
    decode: async (threads) => {
      const ctx = await newContext(threads);
      try {
        const seq = ctx.getSequence();
        // the first token comes out of the prefill; the clock starts there, as generate()'s decodeMs does
        let n = 0, t0 = 0;
        for await (const _t of seq.evaluate(decodePrompt, { temperature: 0 })) {
          if (n === 0) t0 = performance.now();
          if (++n > a.decodeTokens) break;
        }
        if (n !== a.decodeTokens + 1) throw new Error(`llama.cpp decoded ${n - 1} tokens, expected ${a.decodeTokens}`);
        return performance.now() - t0;
      } finally {
        await ctx.dispose();
      }
    },
  };

  // warm-up, each engine once on the smallest prefill and once on the decode (the first rounds ran
  // 20–40 % slower on both engines: JIT, first touches of fresh memory)
  ours.prefill(a.prefill[0]);
  await peer.prefill(a.prefill[0]);
  ours.decode();
  await peer.decode();
  const res = { ours: { prefill: {}, decode: [] }, peer: { prefill: {}, decode: [] } };
  for (const T of a.prefill) { res.ours.prefill[T] = []; res.peer.prefill[T] = []; }
  for (let r = 0; r < a.rounds; r++) {
    // alternate which engine goes first, so neither always runs right after the other
    const order = r % 2 ? ['peer', 'ours'] : ['ours', 'peer'];
    for (const T of a.prefill) {
      for (const who of order) res[who].prefill[T].push(who === 'ours' ? ours.prefill(T) : await peer.prefill(T));
    }
    for (const who of order) res[who].decode.push(who === 'ours' ? ours.decode() : await peer.decode());
  }
  // a reference, not a row: llama.cpp's decode on one thread. Its threads meet at a barrier after
  // every op, so when another process holds a core the 2-thread figure falls far below this one
  const peerDecode1T = await peer.decode(1);
  await lmodel.dispose();
  await llama.dispose?.();
  rmSync(file, { force: true });
  return {
    ...res, peerDecode1T, params, weightsPerToken, ggufBytes: written.byteLength, writeMs, chain: ready.chain, pinnedThreads: pinned?.threads ?? 0,
    backend: tc.lastBackend('matmul') ?? 'none', llamaCpp: nlc.getModuleVersion ? await nlc.getModuleVersion() : '3.21.1',
  };
});
