/**
 * Pre-training of the small dense LLaMA the demo ships (tools/pretrain-demo.mjs runs this):
 * regenerate the synthetic corpus from the recipe's seed, train a LLaMA-2-style BPE tokenizer on
 * its training documents, pre-train a random LLaMA with @llama-moe/trainer (uniform domain mix,
 * validation on the held-out documents) and write a Hugging Face folder: config.json,
 * model.safetensors (float32), generation_config.json, the tokenizer files and a README.md that
 * says how it was made. The folder appears atomically.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { LlamaForCausalLM, atomicWriteFile, loadTokenizer, parseLlamaConfig, saveLlama, saveTokenizerFiles, trainLlamaTokenizer } from '@llama-moe/llama-model/node';
import { train, type EvalRecord, type PerplexityReport, type ProgressStream, type TrainRecord, type TrainableModel } from '@llama-moe/trainer';
import { cachedSamplerTokenizer, demoCorpus, validationBlocks } from './data.js';
import { machineInfo, type MachineInfo } from './experiment.js';
import { DEMO_RECIPE, type DemoRecipe } from './recipe.js';
import { buildFolderAtomically } from './staging.js';

export interface PretrainOptions {
  /** The model folder to write (replaced when `overwrite`). */
  out: string;
  recipe?: DemoRecipe;
  /** Override recipe.pretrain.steps. */
  steps?: number;
  /** Trainer run folder (metrics, report, checkpoint); default a temp folder, removed afterwards. */
  workDir?: string;
  overwrite?: boolean;
  progress?: ProgressStream | null;
  log?: (line: string) => void;
  /** Backend detail for the README. */
  backend?: string;
  /** The command line that ran this, for the README. */
  command?: string;
}

export interface PretrainResult {
  out: string;
  steps: number;
  tokens: number;
  firstLoss: number;
  lastLoss: number;
  /** Validation after training (held-out documents). */
  validation: PerplexityReport['overall'] & { perDomain: Record<string, number> };
  evals: { step: number; ppl: number }[];
  vocabSize: number;
  parameters: number;
  seconds: number;
  corpusBytes: number;
  machine: MachineInfo;
}

export async function pretrainDemoModel(o: PretrainOptions): Promise<PretrainResult> {
  const recipe = o.recipe ?? DEMO_RECIPE;
  const p = { ...recipe.pretrain, steps: o.steps ?? recipe.pretrain.steps };
  const log = o.log ?? (() => {});
  const t0 = performance.now();

  log(`corpus: generateCorpus({ seed: ${recipe.corpus.seed}, targetBytes: ${recipe.corpus.targetBytes} }), first ${recipe.corpus.heldOutDocs} documents per domain held out`);
  const corpus = demoCorpus(recipe.corpus);
  const texts = corpus.train.flatMap((s) => (s.documents ?? []).slice(0, recipe.tokenizer.docsPerDomain));
  log(`tokenizer: LLaMA-2-style BPE, vocab ${recipe.tokenizer.vocabSize}, trained on ${texts.length} training documents`);
  const trained = trainLlamaTokenizer(texts, { vocabSize: recipe.tokenizer.vocabSize, style: recipe.tokenizer.style, padToVocabSize: true });
  const tokFiles = { tokenizerJson: trained.tokenizerJson, tokenizerConfig: trained.tokenizerConfig, specialTokensMap: trained.specialTokensMap };
  const tok = loadTokenizer(tokFiles, { engine: 'auto' });
  const samplerTok = cachedSamplerTokenizer(tok);
  const config = parseLlamaConfig({ ...recipe.model, vocab_size: tok.vocabSize, bos_token_id: tok.bosTokenId, eos_token_id: tok.eosTokenId }, 'demo recipe');
  const model = LlamaForCausalLM.random(config, { seed: p.initSeed });
  const parameters = model.namedParameters().reduce((s, [, t]) => s + t.size, 0);
  const validation = await validationBlocks(corpus.heldOut, samplerTok, p.seqLen, p.evalBlocks);

  const workDir = o.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'llama-moe-pretrain-'));
  log(`pretrain: ${parameters.toLocaleString('en-US')} parameters, ${p.steps} steps × ${p.batchSize} × ${p.seqLen} tokens, lr ${p.lr}, run folder ${workDir}`);
  let result;
  try {
    result = await train(
      {
        max_steps: p.steps, batch_size: p.batchSize, seq_len: p.seqLen, lr: p.lr, warmup_steps: p.warmupSteps, eval_every: p.evalEvery, eval_blocks: p.evalBlocks,
        save_every: 0, keep_last: 1, seed: p.seed, domain_weights: 'uniform', stats_every: 0, log_every: 25, quiet: o.progress === null, report: true,
      },
      { model: model, sources: corpus.train, tokenizer: samplerTok, outDir: workDir, validation, progress: o.progress ?? null, resume: false },
    );
  } finally {
    if (!o.workDir) fs.rmSync(workDir, { recursive: true, force: true });
  }
  const trains = result.history.filter((r): r is TrainRecord => r.kind === 'train');
  const evals = result.history.filter((r): r is EvalRecord => r.kind === 'eval');
  const last = evals.at(-1)!;
  const seconds = (performance.now() - t0) / 1000;
  const res: PretrainResult = {
    out: o.out,
    steps: p.steps,
    tokens: p.steps * p.batchSize * p.seqLen,
    firstLoss: trains[0]?.loss ?? NaN,
    lastLoss: trains.at(-1)?.loss ?? NaN,
    validation: { loss: last.val_loss, ppl: last.val_ppl, tokens: 0, perDomain: last.val_ppl_per_domain },
    evals: evals.map((e) => ({ step: e.step, ppl: e.val_ppl })),
    vocabSize: tok.vocabSize,
    parameters,
    seconds,
    corpusBytes: corpus.bytes,
    machine: machineInfo(),
  };
  await buildFolderAtomically(o.out, async (staging) => {
    saveLlama(model, staging, { dtype: 'float32', overwrite: true });
    saveTokenizerFiles(staging, tokFiles);
    atomicWriteFile(path.join(staging, 'README.md'), pretrainReadme(recipe, p, res, o));
  }, { replace: o.overwrite });
  return res;
}

function pretrainReadme(recipe: DemoRecipe, p: DemoRecipe['pretrain'], r: PretrainResult, o: PretrainOptions): string {
  const m = recipe.model;
  const domains = Object.keys(r.validation.perDomain);
  return `# demo-model: a small dense LLaMA for \`llama-moe demo\`

A ${r.parameters.toLocaleString('en-US')}-parameter LLaMA (hidden ${m.hidden_size}, ${m.num_hidden_layers} layers,
${m.num_attention_heads} query heads / ${m.num_key_value_heads} key-value heads (GQA), intermediate ${m.intermediate_size}, vocab ${r.vocabSize},
RoPE, RMSNorm, SwiGLU) pre-trained from scratch on the package's synthetic SlimPajama-like corpus.
Hugging Face layout: \`config.json\`, \`model.safetensors\` (float32), \`generation_config.json\`,
\`tokenizer.json\`, \`tokenizer_config.json\`, \`special_tokens_map.json\`.

## How it was produced

\`\`\`sh
pnpm nx run-many -t build
${o.command ?? 'node tools/pretrain-demo.mjs'}
\`\`\`

Everything is seeded; the recipe is \`DEMO_RECIPE\` in \`packages/cli/src/demo/recipe.ts\`.

- **Corpus** (not shipped, regenerated on demand): \`generateCorpus({ seed: ${recipe.corpus.seed}, targetBytes: ${recipe.corpus.targetBytes} })\`
  from \`@llama-moe/data-sampler\`, the 7 SlimPajama domains (${recipe.corpus.domains.join(', ')}), ${(r.corpusBytes / 1e6).toFixed(2)} MB.
  The first ${recipe.corpus.heldOutDocs} documents of every domain are held out: no tokenizer, dense model or MoE trains on them;
  all validation blocks are packed from them.
- **Tokenizer**: \`trainLlamaTokenizer\` (LLaMA-2 SentencePiece-BPE style, byte fallback, digits split), vocab ${recipe.tokenizer.vocabSize},
  learned from the first ${recipe.tokenizer.docsPerDomain} training documents of each domain.
- **Model init**: \`LlamaForCausalLM.random(config, { seed: ${p.initSeed} })\` (N(0, 0.02) linears, unit norms).
- **Pre-training** (\`@llama-moe/trainer\`): ${p.steps} steps × ${p.batchSize} sequences × ${p.seqLen} tokens = ${r.tokens.toLocaleString('en-US')} tokens,
  uniform domain mix, AdamW (β 0.9/0.95, weight decay 0.1), peak lr ${p.lr}, ${p.warmupSteps} warm-up steps, cosine to 10 %,
  gradient clipping 1.0, data seed ${p.seed}; validation every ${p.evalEvery} steps on ${p.evalBlocks} held-out blocks per domain.
- **Result**: training loss ${r.firstLoss.toFixed(3)} → ${r.lastLoss.toFixed(3)}; held-out perplexity ${r.evals.map((e) => `${e.ppl.toFixed(2)} (step ${e.step})`).join(' → ')}.
- **Run**: ${r.seconds.toFixed(0)} s on ${r.machine.cpus} × ${r.machine.cpuModel}, Node ${r.machine.node}, matmul backend ${o.backend ?? 'default'}, ${new Date().toISOString().slice(0, 10)}.
  (Other backends or machines round differently, so a re-run gives a close but not bit-identical model.)

## Held-out perplexity per domain (${p.evalBlocks} blocks × ${p.seqLen} tokens)

| ${domains.join(' | ')} | all |
| ${domains.map(() => '---:').join(' | ')} | ---: |
| ${domains.map((d) => r.validation.perDomain[d]!.toFixed(2)).join(' | ')} | ${r.validation.ppl.toFixed(2)} |
`;
}
