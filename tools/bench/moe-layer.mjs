#!/usr/bin/env node
/**
 * One MoE feed-forward layer, forward + backward, timed on its own: the part of an MoE training
 * step that routing adds (gate, dispatch, per-expert SwiGLU chains, combine), without attention,
 * the LM head or the optimizer around it. T = 512 tokens of random hidden states, the layer built
 * as train-child.mjs builds it (random partition of a random dense FFN, linear top-k gate, no noise,
 * no token dropping), loss Σ y².
 *
 *   node tools/bench/moe-layer.mjs '{"shape":"demo","experts":8,"topK":2,"iters":100}'
 *   node tools/bench/moe-layer.mjs '{"shape":"brown"}' --root /path/to/other/checkout
 *
 * shape: demo | brown (packages/cli/assets/<shape>-model/config.json) or a preset (stories15M, …).
 * Prints best and median ms per iteration, process CPU ms per iteration (robust on a loaded
 * machine: compare runs alternated, A B A B), and a checksum (loss, Σ parameter grad², Σ input
 * grad²) that two versions must agree on to float32 rounding. --root runs another checkout's built
 * packages (for before/after in one session).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT as HERE } from './util.mjs';

const argv = process.argv.slice(2);
const rootAt = argv.indexOf('--root');
const ROOT = rootAt >= 0 ? argv[rootAt + 1] : HERE;
const a = { shape: 'demo', experts: 8, topK: 2, iters: 60, ...JSON.parse(argv.find((s) => s.startsWith('{')) ?? '{}') };
const { importBuiltPackage } = await import(join(ROOT, 'tools', 'lib', 'built-package.mjs'));
const tc = await importBuiltPackage('tensor-core');
const lm = await importBuiltPackage('llama-model');
const ep = await importBuiltPackage('expert-partition');
await tc.useDefaultBackend({ prefer: ['native', 'wasm'] });

const cfg = ['demo', 'brown'].includes(a.shape)
  ? lm.parseLlamaConfig({ ...JSON.parse(readFileSync(join(ROOT, 'packages', 'cli', 'assets', `${a.shape}-model`, 'config.json'), 'utf8')), torch_dtype: 'float32' })
  : lm.presetConfig(a.shape);
const dense = lm.LlamaForCausalLM.random({ ...cfg, num_hidden_layers: 1 }, { seed: 1 });
const F = cfg.intermediate_size, E = a.experts;
const sizes = ep.resolveSizes(F, E);
const spec = { ...ep.defaultMoeSpec(1, F, E, a.topK), gateNetwork: 'linear', gateAddNoise: false, dropTokens: false, gateUseBalance: false, sizeExperts: [[...sizes]] };
const model = ep.buildMoeFromDense(dense, { spec, format: 'llama-moe', partition: [ep.randomPartition(F, sizes, { seed: 0, layer: 0 }).experts], gateInit: 'random', seed: 0, method: 'random' });
model.setTrainable(true);
const ffn = model.weights.layers[0].mlp;
const params = ffn.namedParameters().map(([, t]) => t);
const T = 512, D = cfg.hidden_size;
const rng = tc.createRng(3);
const inputs = Array.from({ length: 4 }, () => Float32Array.from({ length: T * D }, () => rng.normal()));
const ts = [];
let cpu0 = null, chk = null;
const warm = 3;
for (let it = 0; it < a.iters + warm; it++) {
  if (it === warm) cpu0 = process.cpuUsage();
  const x = new tc.Tensor(inputs[it % inputs.length].slice(), [T, D]);
  x.requiresGrad = true;
  for (const p of params) p.clearGrad();
  const t0 = performance.now();
  const y = ffn.forward(x, { training: true, layer: 0, auxLosses: [], records: [], collectStats: false });
  const loss = tc.sum(tc.mul(y, y));
  loss.backward();
  if (it >= warm) ts.push(performance.now() - t0);
  if (it === a.iters + warm - 1) {
    let g2 = 0;
    for (const p of params) if (p.grad) for (const v of p.grad.f32()) g2 += v * v;
    chk = [loss.item(), g2, x.grad.f32().reduce((s, v) => s + v * v, 0)];
  }
}
const cu = process.cpuUsage(cpu0);
ts.sort((p, q) => p - q);
const r = { shape: a.shape, experts: E, topK: a.topK, iters: a.iters, bestMs: +ts[0].toFixed(3), medianMs: +ts[ts.length >> 1].toFixed(3), cpuMsPerIter: +((cu.user + cu.system) / 1000 / a.iters).toFixed(3), checksum: chk };
process.stdout.write(`${JSON.stringify(r)}\n`);
process.exit(0);
