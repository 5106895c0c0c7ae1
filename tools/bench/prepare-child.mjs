/**
 * Child: `data prepare` through the library (data-sampler's writePackedDataset over a corpus
 * folder, with a LLaMA tokenizer adapted as the CLI adapts it) in a fresh process, so its peak
 * RSS is the writer's own. Args: { corpus, out, tokenizer, engine, seqLen, shardBlocks? }.
 */
import { childMain, importPkg } from './child-common.mjs';

await childMain(async (a) => {
  const ds = await importPkg('data-sampler');
  const lm = await importPkg('llama-model');
  const cli = await importPkg('cli');
  const tok = cli.samplerTokenizer(lm.loadTokenizer(a.tokenizer, { engine: a.engine }), a.tokenizer);
  const t0 = performance.now();
  const sources = await ds.sourcesFromDir(a.corpus);
  const m = await ds.writePackedDataset({ outDir: a.out, sources, tokenizer: tok, seqLen: a.seqLen, ...(a.shardBlocks ? { shardBlocks: a.shardBlocks } : {}) });
  const seconds = (performance.now() - t0) / 1000;
  const doms = Object.values(m.domains);
  return { seconds, files: m.files.length, documents: doms.reduce((s, d) => s + d.documents, 0), tokens: doms.reduce((s, d) => s + d.tokens, 0), blocks: doms.reduce((s, d) => s + d.blocks, 0) };
});
