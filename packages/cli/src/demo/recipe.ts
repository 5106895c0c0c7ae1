/**
 * The fixed recipe behind the shipped demo model and everything run on it: the synthetic corpus
 * (regenerated from its seed, never shipped), the documents held out for validation, the
 * tokenizer, the dense model's shape and its pre-training, and the continual pre-training budgets
 * of `llama-moe demo` and tools/reproduce-paper.mjs. One object, so the pre-training script, the
 * demo and the reproduction cannot drift apart: the demo's validation documents are exactly the
 * ones the dense model never saw.
 */
import { SLIMPAJAMA_DOMAINS, type SlimPajamaDomain } from '@llama-moe/data-sampler';

export interface CorpusRecipe {
  /** generateCorpus seed. */
  seed: number;
  /** generateCorpus targetBytes: the whole corpus, split evenly over the domains. */
  targetBytes: number;
  domains: readonly SlimPajamaDomain[];
  /**
   * The first `heldOutDocs` documents of every domain are the validation pool: never used to
   * train the tokenizer, the dense model or any MoE. Validation blocks are packed from them.
   */
  heldOutDocs: number;
}

export interface TokenizerRecipe {
  /** len(tokenizer), special and byte tokens included. */
  vocabSize: number;
  style: 'llama2';
  /** Training documents per domain the BPE merges are learned from. */
  docsPerDomain: number;
}

/** A continual pre-training budget: identical for every MoE of one run, so they compare fairly. */
export interface TrainBudget {
  steps: number;
  batchSize: number;
  seqLen: number;
  lr: number;
  warmupSteps: number;
  /** Per-domain evaluation (and dynamic weight update) every N steps. */
  evalEvery: number;
  /** Validation blocks per domain (of seqLen tokens), packed from the held-out documents. */
  evalBlocks: number;
  /**
   * Documents per domain in the sampler's shuffle buffer (default 200, LLaMA-MoE's). The buffer is
   * filled (and its documents tokenised) before the first step, so a short run uses a small one.
   */
  shuffleBuffer?: number;
}

/** The dense model's pre-training: a budget like the MoEs', plus the seeds it starts from. */
export interface PretrainRecipe extends TrainBudget {
  /** LlamaForCausalLM.random seed. */
  initSeed: number;
  /** Trainer seed (data order). */
  seed: number;
}

export interface DemoRecipe {
  corpus: CorpusRecipe;
  tokenizer: TokenizerRecipe;
  /** Dense model config.json keys (Hugging Face names). */
  model: Record<string, unknown>;
  pretrain: PretrainRecipe;
  /** `llama-moe demo`. */
  demo: TrainBudget;
  /** `llama-moe demo --quick` (the test runs this). */
  quick: TrainBudget;
  /** tools/reproduce-paper.mjs. */
  reproduce: TrainBudget;
}

/** config.json keys the shipped models share: a LLaMA-2-style architecture (Hugging Face names); each recipe adds its sizes. */
export const LLAMA_ARCHITECTURE_KEYS: Readonly<Record<string, unknown>> = Object.freeze({
  model_type: 'llama',
  architectures: ['LlamaForCausalLM'],
  hidden_act: 'silu',
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  rope_scaling: null,
  initializer_range: 0.02,
  tie_word_embeddings: false,
  attention_bias: false,
  mlp_bias: false,
  bos_token_id: 1,
  eos_token_id: 2,
  pad_token_id: null,
  use_cache: true,
});

export const DEMO_RECIPE: DemoRecipe = {
  corpus: { seed: 2024, targetBytes: 4_000_000, domains: SLIMPAJAMA_DOMAINS, heldOutDocs: 48 },
  tokenizer: { vocabSize: 1024, style: 'llama2', docsPerDomain: 400 },
  model: {
    ...LLAMA_ARCHITECTURE_KEYS,
    vocab_size: 1024,
    hidden_size: 64,
    // Divisible by 8 and 16: the paper's 2/8 and 4/16 splits give equal experts (32 and 16 neurons).
    intermediate_size: 256,
    num_hidden_layers: 4,
    num_attention_heads: 4,
    // GQA: two query heads per key/value head, as LLaMA-2-70B / LLaMA-3.
    num_key_value_heads: 2,
    max_position_embeddings: 256,
    torch_dtype: 'float32',
  },
  pretrain: { initSeed: 0, seed: 0, steps: 1200, batchSize: 8, seqLen: 128, lr: 3e-3, warmupSteps: 100, evalEvery: 200, evalBlocks: 16 },
  demo: { steps: 150, batchSize: 4, seqLen: 128, lr: 1e-3, warmupSteps: 10, evalEvery: 50, evalBlocks: 8 },
  quick: { steps: 16, batchSize: 4, seqLen: 64, lr: 2e-3, warmupSteps: 2, evalEvery: 8, evalBlocks: 2 },
  reproduce: { steps: 300, batchSize: 4, seqLen: 128, lr: 1e-3, warmupSteps: 20, evalEvery: 100, evalBlocks: 16 },
};
