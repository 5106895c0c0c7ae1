/**
 * Child: training-step throughput of one preset-shaped 4-of-16 LLaMA-MoE (trainer's
 * benchTrainStep) in a fresh process, so that neither the earlier sections' heap nor their
 * thread pools (tfjs, gpu.js, the GEMM peers) are in the way of the measured steps.
 * Args: { preset, batch, seqLen, steps, experts, topK, chain }.
 */
import { childMain, importPkg } from './child-common.mjs';

await childMain(async (a) => {
  const tc = await importPkg('tensor-core');
  const lm = await importPkg('llama-model');
  const ep = await importPkg('expert-partition');
  const tr = await importPkg('trainer');
  const ready = await tc.useDefaultBackend({ prefer: a.chain });
  const cfg = lm.presetConfig(a.preset);
  const dense = lm.LlamaForCausalLM.random(cfg, { seed: 1 });
  const L = cfg.num_hidden_layers, F = cfg.intermediate_size;
  const sizes = ep.resolveSizes(F, a.experts);
  const partition = Array.from({ length: L }, (_, layer) => ep.randomPartition(F, sizes, { seed: 0, layer }).experts);
  const spec = { ...ep.defaultMoeSpec(L, F, a.experts, a.topK), sizeExperts: Array.from({ length: L }, () => [...sizes]) };
  const model = ep.buildMoeFromDense(dense, { spec, format: 'llama-moe', partition, gateInit: 'random', seed: 0, method: 'random' });
  const r = tr.benchTrainStep(model, { batch: a.batch, seqLen: a.seqLen, steps: a.steps });
  return { ...r, backend: tc.lastBackend('matmul') ?? 'none', chain: ready.chain };
});
