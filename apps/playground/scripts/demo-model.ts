/**
 * The playground's demo model (Node only; the page never imports this): a random tiny LLaMA
 * (preset 'tiny') split into a LLaMA-MoE with random expert partitions, plus a generated
 * llama2-style tokenizer, written as a Hugging Face folder the page can fetch. The gate weights
 * are scaled up so routing differs visibly between tokens (a fresh N(0, 0.02) gate routes every
 * token almost uniformly, which makes a flat heatmap).
 */
import { rmSync } from 'node:fs';
import { LlamaForCausalLM, presetConfig, sampleTokenizerTexts, saveTokenizerFiles, trainLlamaTokenizer } from '@llama-moe/llama-model/node';
import { buildMoeFromDense, defaultMoeSpec, randomPartition, saveMoeModel, type MoeFormat } from '@llama-moe/expert-partition/node';

export interface DemoModelOptions {
  /** Experts per layer (default 4). */
  experts?: number;
  /** Experts per token (default 2). */
  topK?: number;
  /** Checkpoint layout (default llama-moe). */
  format?: MoeFormat;
  /** LLaMA-MoE gate network (default mlp; Mixtral is always linear). */
  gateNetwork?: 'mlp' | 'linear';
  seed?: number;
  /** Multiply the gate weights by this (default 40) so routing varies between tokens. */
  gateGain?: number;
  /** Shard size in bytes (default: one model.safetensors). */
  maxShardBytes?: number;
  /** Replace an existing folder. */
  overwrite?: boolean;
}

export interface DemoModelInfo {
  dir: string;
  layers: number;
  experts: number;
  topK: number;
  vocabSize: number;
}

export function makeDemoModel(dir: string, o: DemoModelOptions = {}): DemoModelInfo {
  const E = o.experts ?? 4, k = o.topK ?? 2, seed = o.seed ?? 0;
  const cfg = presetConfig('tiny');
  const tok = trainLlamaTokenizer(sampleTokenizerTexts(), { vocabSize: cfg.vocab_size, style: 'llama2', padToVocabSize: true });
  if (tok.vocabSize !== cfg.vocab_size) throw new RangeError(`demo model: tokenizer has ${tok.vocabSize} tokens, config vocab_size is ${cfg.vocab_size}`);
  const dense = LlamaForCausalLM.random(cfg, { seed });
  const F = cfg.intermediate_size, L = cfg.num_hidden_layers;
  const format = o.format ?? 'llama-moe';
  const spec = { ...defaultMoeSpec(L, F, E, k), gateNetwork: format === 'mixtral' ? 'linear' as const : o.gateNetwork ?? 'mlp' };
  if (!spec.sizeExperts.length) throw new RangeError(`demo model: intermediate_size ${F} is not divisible by ${E} experts`);
  const partition = Array.from({ length: L }, (_, l) => randomPartition(F, spec.sizeExperts[l]!, { seed, layer: l }).experts);
  const moe = buildMoeFromDense(dense, { spec, format, partition, gateInit: 'random', seed, method: 'random' });
  const gain = o.gateGain ?? 40;
  for (const [name, t] of moe.namedParameters()) {
    if (/\.gate\.(gate_network(\.0)?|weight)\b/.test(name) || /block_sparse_moe\.gate\.weight$/.test(name)) t.f32().forEach((v, i, a) => { a[i] = v * gain; });
  }
  if (o.overwrite) rmSync(dir, { recursive: true, force: true });
  saveMoeModel(moe, dir, { dtype: 'float32', maxShardBytes: o.maxShardBytes, extraFiles: {} });
  saveTokenizerFiles(dir, { tokenizerJson: tok.tokenizerJson, tokenizerConfig: tok.tokenizerConfig, specialTokensMap: tok.specialTokensMap });
  return { dir, layers: L, experts: E, topK: k, vocabSize: cfg.vocab_size };
}
