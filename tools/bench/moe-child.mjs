/**
 * Child: the sparsity dividend (expert-partition's benchMoeFfn) in a fresh process, for the same
 * reason as train-child.mjs: after the GEMM section (tfjs, gpu.js, numpy peers, large matrices
 * on the heap) the MoE forward measured ~15 % slower in the parent while the dense FFN did not.
 * Args: { T, D, F, E, k, reps, chain }.
 */
import { childMain, importPkg } from './child-common.mjs';

await childMain(async (a) => {
  const tc = await importPkg('tensor-core');
  const ep = await importPkg('expert-partition');
  const ready = await tc.useDefaultBackend({ prefer: a.chain });
  const r = ep.benchMoeFfn({ T: a.T, D: a.D, F: a.F, E: a.E, k: a.k, reps: a.reps });
  return { ...r, chain: ready.chain, combine: tc.lastBackend('scatterAddRows') ?? 'none' };
});
