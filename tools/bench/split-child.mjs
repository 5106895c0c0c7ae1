/**
 * Child: one streaming split (expert-partition's splitStreaming, what `llama-moe split` runs for
 * the weight-only methods) in a fresh process, so its peak RSS is the split's own.
 * Args: { model, out, experts, topK, method, seed }.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { childMain, importPkg } from './child-common.mjs';

await childMain(async (a) => {
  const ep = await importPkg('expert-partition');
  // The backend chain `llama-moe split` runs on (its column gathers are the registry's takeCols kernel).
  await (await importPkg('tensor-core')).useDefaultBackend();
  const t0 = performance.now();
  const r = ep.splitStreaming({ model: a.model, out: a.out, experts: a.experts, topK: a.topK, method: a.method, seed: a.seed ?? 0, format: 'llama-moe', gateInit: 'random' });
  const seconds = (performance.now() - t0) / 1000;
  const outBytes = readdirSync(a.out).filter((f) => f.endsWith('.safetensors')).reduce((s, f) => s + statSync(join(a.out, f)).size, 0);
  return { seconds, layers: r.layers, streamed: r.streamed, outBytes };
});
