/**
 * Child: training-step throughput of one LLaMA or LLaMA-MoE (trainer's benchTrainStep) in a fresh
 * process, so that neither the earlier sections' heap nor their thread pools (tfjs, gpu.js, the
 * GEMM peers) are in the way of the measured steps.
 * Args: { preset | config (a config.json object), batch, seqLen, steps, experts (0 = dense), topK,
 *         gate ('default': the noisy MLP gate of defaultMoeSpec with token dropping; 'linear': a
 *         linear top-k gate, no noise, no dropping, no balance loss, as the PyTorch peer), chain }.
 */
import { childMain, importPkg } from './child-common.mjs';

await childMain(async (a) => {
  const tc = await importPkg('tensor-core');
  const lm = await importPkg('llama-model');
  const ep = await importPkg('expert-partition');
  const tr = await importPkg('trainer');
  const ready = await tc.useDefaultBackend({ prefer: a.chain });
  const cfg = a.config ? lm.parseLlamaConfig(a.config) : lm.presetConfig(a.preset);
  const dense = lm.LlamaForCausalLM.random(cfg, { seed: 1 });
  let model = dense;
  if ((a.experts ?? 16) > 0) {
    const E = a.experts ?? 16;
    const L = cfg.num_hidden_layers, F = cfg.intermediate_size;
    const sizes = ep.resolveSizes(F, E);
    const partition = Array.from({ length: L }, (_, layer) => ep.randomPartition(F, sizes, { seed: 0, layer }).experts);
    const gate = a.gate === 'linear' ? { gateNetwork: 'linear', gateAddNoise: false, dropTokens: false, gateUseBalance: false } : {};
    const spec = { ...ep.defaultMoeSpec(L, F, E, a.topK), ...gate, sizeExperts: Array.from({ length: L }, () => [...sizes]) };
    model = ep.buildMoeFromDense(dense, { spec, format: 'llama-moe', partition, gateInit: 'random', seed: 0, method: 'random' });
  }
  const r = tr.benchTrainStep(model, { batch: a.batch, seqLen: a.seqLen, steps: a.steps });
  return { ...r, backend: tc.lastBackend('matmul') ?? 'none', chain: ready.chain };
});
