/**
 * Child: write a random-init dense checkpoint with the CLI library's streaming init (one tensor
 * in memory at a time). Args: { preset, layers, out, dtype, seed }.
 */
import { childMain, importPkg } from './child-common.mjs';

await childMain(async (a) => {
  const cli = await importPkg('cli');
  const t0 = performance.now();
  const r = cli.initModelFolder({ preset: a.preset, layers: a.layers, out: a.out, dtype: a.dtype, seed: a.seed });
  return { seconds: (performance.now() - t0) / 1000, bytes: r.bytes, parameters: r.parameters, files: r.files };
});
