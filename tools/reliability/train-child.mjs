#!/usr/bin/env node
/**
 * Child process for crash.mjs: `node train-child.mjs <outDir>` trains a tiny dense LLaMA with the
 * built trainer (save_every 1), resuming from the latest complete checkpoint in outDir when there
 * is one. crash.mjs kills it with SIGKILL at random moments and compares the per-step losses of
 * the restarted run with an uninterrupted one.
 */
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = (pkg) => import(pathToFileURL(path.join(repo, 'packages', pkg, 'dist', 'index.js')).href);
const [llama, data, trainer] = await Promise.all([dist('llama-model'), dist('data-sampler'), dist('trainer')]);

/** The run crash.mjs repeats: every trajectory key fixed, so a resume must reproduce it exactly. */
export const TRAIN_CONFIG = {
  max_steps: 8, batch_size: 2, grad_accum: 1, seq_len: 16, lr: 3e-3, warmup_steps: 2, save_every: 1, keep_last: 2,
  eval_every: 0, eval_blocks: 0, seed: 7, quiet: true,
};

const outDir = process.argv[2];
if (!outDir) {
  process.stderr.write('usage: train-child.mjs <outDir>\n');
  process.exit(2);
}
const cfg = llama.presetConfig('tiny', {
  vocab_size: 259, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64,
});
const corpus = data.generateCorpus({ seed: 1, docsPerDomain: 20, domains: ['wikipedia', 'github'] });
await trainer.train(TRAIN_CONFIG, {
  model: llama.LlamaForCausalLM.random(cfg, { seed: 3 }),
  sources: corpus.domains.map((d) => ({ name: d.name, documents: d.documents })),
  tokenizer: data.byteLevelTokenizer(),
  outDir,
  progress: null,
});
