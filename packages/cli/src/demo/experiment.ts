/**
 * The LLaMA-MoE experiment on a dense checkpoint, shared by `llama-moe demo` and
 * tools/reproduce-paper.mjs:
 *
 *   dense folder → per-domain perplexity on held-out blocks
 *   for each variant (method, E experts, top-k):
 *     splitModel (LLaMA-MoE format) → perplexity before → continual pre-training with
 *     Sheared-LLaMA dynamic domain weights (reference = the dense model's per-domain loss, as
 *     LLaMA-MoE uses the dense LLaMA-2 as reference) → perplexity after
 *   optionally the dense model itself trained on the same budget (the control: how much of the
 *   MoE's gain is simply more training).
 *
 * Every run gets the same token budget, seed, data order and validation blocks, so the rows of the
 * summary compare partitioning methods and nothing else. Everything is written under `workDir`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { DomainSource, Tokenizer as SamplerTokenizer } from '@llama-moe/data-sampler';
import { loadLlama, loadTokenizer, saveLlama, type LlamaForCausalLM } from '@llama-moe/llama-model';
import { loadMoeModel, saveMoeModel, splitModel } from '@llama-moe/expert-partition';
import { evaluatePerplexity, train, type EvalRecord, type MetricRecord, type PerplexityReport, type ProgressStream, type TrainRecord, type TrainableModel } from '@llama-moe/trainer';
import { cachedSamplerTokenizer, demoCorpus, validationBlocks } from './data.js';
import type { CorpusRecipe, TrainBudget } from './recipe.js';

export const DEMO_METHODS = ['random', 'clustering'] as const;
export type DemoMethod = (typeof DEMO_METHODS)[number];

export interface MoeVariant {
  method: DemoMethod;
  experts: number;
  topK: number;
}

/** `random-2of8`: the paper's "k/E" naming. */
export function variantName(v: MoeVariant): string {
  return `${v.method}-${v.topK}of${v.experts}`;
}

export const DENSE_CONTROL_NAME = 'dense-continued';

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'] as const;

export interface ExperimentInputs {
  /** Dense Hugging Face LLaMA folder with its tokenizer files. */
  denseDir: string;
  /** Where `runs/<name>/` are written (created). */
  workDir: string;
  variants: MoeVariant[];
  budget: TrainBudget;
  corpus: CorpusRecipe;
  /** Split, data order and gate-noise seed. */
  seed: number;
  /** Also continue pre-training the dense model on the same budget. */
  denseControl?: boolean;
  /** Stage headings and notes (one line each, no newline). */
  log?: (line: string) => void;
  /** The trainer's per-step progress; null for none. */
  progress?: ProgressStream | null;
  /** Backend detail for the summary. */
  backend?: string;
}

export interface RunSummary {
  name: string;
  kind: 'moe' | 'dense';
  method: DemoMethod | 'dense';
  experts: number;
  topK: number;
  /** Share of the FFN neurons each token uses (k·(F/E) / F). */
  activeFfnFraction: number;
  before: PerplexityReport;
  after: PerplexityReport;
  /** First and last training-step loss (CE + balance). */
  trainLoss: { first: number; last: number };
  tokens: number;
  trainSeconds: number;
  /** Domain sampling weights at the end of training. */
  finalDomainWeights: Record<string, number>;
  /** Relative to the experiment folder. */
  paths: { init: string | null; model: string; report: string; metrics: string };
}

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  platform: string;
  node: string;
}

export interface ExperimentSummary {
  format: 'llama-moe-experiment';
  version: 1;
  created: string;
  denseModel: string;
  corpus: CorpusRecipe & { bytes: number };
  budget: TrainBudget;
  seed: number;
  backend: string;
  machine: MachineInfo;
  domains: string[];
  /** Validation blocks per domain × tokens per block. */
  validation: { blocksPerDomain: number; seqLen: number; tokensPerDomain: number };
  dense: PerplexityReport;
  runs: RunSummary[];
  seconds: { total: number; data: number; denseEval: number; runs: Record<string, number> };
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()} ${os.arch()}`,
    node: process.version,
  };
}

function readTokenizerFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of TOKENIZER_FILES) {
    const p = path.join(dir, f);
    if (fs.existsSync(p)) out[f] = fs.readFileSync(p, 'utf8');
  }
  return out;
}

function evalModel(model: TrainableModel | LlamaForCausalLM, validation: Record<string, Int32Array[]>): PerplexityReport {
  return evaluatePerplexity(model as unknown as TrainableModel, validation, { batchSize: 8 });
}

function trainConfig(b: TrainBudget, seed: number, referenceLoss: Record<string, number>, quietTrainer: boolean, moe: boolean): Record<string, unknown> {
  return {
    max_steps: b.steps,
    batch_size: b.batchSize,
    seq_len: b.seqLen,
    lr: b.lr,
    warmup_steps: b.warmupSteps,
    eval_every: b.evalEvery,
    eval_blocks: b.evalBlocks,
    save_every: 0,
    keep_last: 1,
    seed,
    // LLaMA-MoE: start from the SlimPajama (Sheared-LLaMA) proportions and move them towards the
    // domains where the MoE lags the dense model most.
    domain_weights: 'sheared_llama',
    dynamic: { rule: 'sheared_llama', update_every: b.evalEvery, reference_loss: referenceLoss },
    stats_every: moe ? Math.max(1, Math.min(10, Math.floor(b.steps / 4))) : 0,
    log_every: Math.max(1, Math.floor(b.steps / 5)),
    quiet: quietTrainer,
    report: true,
  };
}

function trainLosses(history: readonly MetricRecord[]): { first: number; last: number } {
  const t = history.filter((r): r is TrainRecord => r.kind === 'train');
  return { first: t[0]?.loss ?? NaN, last: t.at(-1)?.loss ?? NaN };
}

function lastWeights(history: readonly MetricRecord[]): Record<string, number> {
  for (let i = history.length - 1; i >= 0; i--) {
    const r = history[i]!;
    if (r.kind === 'eval') return { ...(r as EvalRecord).domain_weights };
    if (r.kind === 'train') return { ...(r as TrainRecord).domain_weights };
  }
  return {};
}

/** Run the experiment; returns the summary (also the caller's to write). */
export async function runExperiment(inp: ExperimentInputs): Promise<ExperimentSummary> {
  const log = inp.log ?? (() => {});
  const t0 = performance.now();
  const b = inp.budget;
  const seconds: ExperimentSummary['seconds'] = { total: 0, data: 0, denseEval: 0, runs: {} };
  const rel = (p: string) => path.relative(inp.workDir, p).split(path.sep).join('/');
  fs.mkdirSync(path.join(inp.workDir, 'runs'), { recursive: true });

  log(`data: regenerating the synthetic corpus (seed ${inp.corpus.seed}, ${(inp.corpus.targetBytes / 1e6).toFixed(1)} MB, ${inp.corpus.domains.length} domains); holding out ${inp.corpus.heldOutDocs} documents per domain`);
  let t = performance.now();
  const tok = loadTokenizer(inp.denseDir);
  const samplerTok: SamplerTokenizer = cachedSamplerTokenizer(tok);
  const corpus = demoCorpus(inp.corpus);
  const sources: DomainSource[] = corpus.train;
  const validation = await validationBlocks(corpus.heldOut, samplerTok, b.seqLen, b.evalBlocks);
  const domains = Object.keys(validation);
  seconds.data = (performance.now() - t) / 1000;
  const tokenizerFiles = readTokenizerFiles(inp.denseDir);

  log(`dense: per-domain perplexity of ${inp.denseDir} on ${b.evalBlocks} held-out blocks × ${b.seqLen} tokens per domain`);
  t = performance.now();
  const dense = loadLlama(inp.denseDir);
  const denseEval = evalModel(dense, validation);
  seconds.denseEval = (performance.now() - t) / 1000;
  log(`dense: overall perplexity ${denseEval.overall.ppl.toFixed(3)}`);
  const referenceLoss = Object.fromEntries(Object.entries(denseEval.perDomain).map(([d, r]) => [d, r.loss]));
  const quietTrainer = inp.progress === null;

  /** Continual pre-training of one model on the shared budget, data and validation blocks. */
  const continualPretrain = (model: TrainableModel, trainDir: string, moe: boolean, save: (m: TrainableModel, dir: string) => void, load?: (dir: string) => TrainableModel) =>
    train(trainConfig(b, inp.seed, referenceLoss, quietTrainer, moe), {
      model,
      sources,
      tokenizer: samplerTok,
      outDir: trainDir,
      validation,
      saveModel: save,
      ...(load ? { loadModel: load } : {}),
      progress: inp.progress ?? null,
      resume: false,
    });

  const runs: RunSummary[] = [];
  const total = inp.variants.length + (inp.denseControl ? 1 : 0);
  let index = 0;
  for (const v of inp.variants) {
    index++;
    const name = variantName(v);
    const runDir = path.join(inp.workDir, 'runs', name);
    const initDir = path.join(runDir, 'init');
    const trainDir = path.join(runDir, 'train');
    const tRun = performance.now();
    log(`[${index}/${total}] ${name}: split the FFNs into ${v.experts} experts (${v.method}), top-${v.topK}, LLaMA-MoE format`);
    splitModel({ model: inp.denseDir, out: initDir, experts: v.experts, topK: v.topK, method: v.method, format: 'llama-moe', seed: inp.seed, dtype: 'float32' });
    const moe = loadMoeModel(initDir, { seed: inp.seed });
    const before = evalModel(moe, validation);
    log(`[${index}/${total}] ${name}: perplexity before training ${before.overall.ppl.toFixed(3)}; continual pre-training ${b.steps} steps × ${b.batchSize} × ${b.seqLen} tokens`);
    const tTrain = performance.now();
    const result = await continualPretrain(
      moe as unknown as TrainableModel,
      trainDir,
      true,
      (m, dir) => saveMoeModel(m as unknown as LlamaForCausalLM, dir, { overwrite: true, dtype: 'float32', extraFiles: tokenizerFiles }),
      (dir) => loadMoeModel(dir, { seed: inp.seed }) as unknown as TrainableModel,
    );
    const trainSeconds = (performance.now() - tTrain) / 1000;
    const after = evalModel(result.model, validation);
    log(`[${index}/${total}] ${name}: perplexity after training ${after.overall.ppl.toFixed(3)} (dense ${denseEval.overall.ppl.toFixed(3)})`);
    runs.push({
      name, kind: 'moe', method: v.method, experts: v.experts, topK: v.topK, activeFfnFraction: v.topK / v.experts, before, after,
      trainLoss: trainLosses(result.history), tokens: b.steps * b.batchSize * b.seqLen, trainSeconds, finalDomainWeights: lastWeights(result.history),
      paths: { init: rel(initDir), model: rel(result.checkpoint ?? trainDir), report: rel(path.join(trainDir, 'report.html')), metrics: rel(path.join(trainDir, 'metrics.jsonl')) },
    });
    seconds.runs[name] = (performance.now() - tRun) / 1000;
  }

  if (inp.denseControl) {
    index++;
    const name = DENSE_CONTROL_NAME;
    const trainDir = path.join(inp.workDir, 'runs', name, 'train');
    const tRun = performance.now();
    log(`[${index}/${total}] ${name}: the dense model, continual pre-training on the same budget (control)`);
    const model = loadLlama(inp.denseDir);
    const result = await continualPretrain(model as unknown as TrainableModel, trainDir, false, (m, dir) =>
      saveLlama(m as unknown as LlamaForCausalLM, dir, { overwrite: true, dtype: 'float32', extraFiles: tokenizerFiles }));
    const trainSeconds = (performance.now() - tRun) / 1000;
    const after = evalModel(result.model, validation);
    log(`[${index}/${total}] ${name}: perplexity after training ${after.overall.ppl.toFixed(3)}`);
    runs.push({
      name, kind: 'dense', method: 'dense', experts: 1, topK: 1, activeFfnFraction: 1, before: denseEval, after,
      trainLoss: trainLosses(result.history), tokens: b.steps * b.batchSize * b.seqLen, trainSeconds, finalDomainWeights: lastWeights(result.history),
      paths: { init: null, model: rel(result.checkpoint ?? trainDir), report: rel(path.join(trainDir, 'report.html')), metrics: rel(path.join(trainDir, 'metrics.jsonl')) },
    });
    seconds.runs[name] = (performance.now() - tRun) / 1000;
  }

  seconds.total = (performance.now() - t0) / 1000;
  return {
    format: 'llama-moe-experiment',
    version: 1,
    created: new Date().toISOString(),
    denseModel: inp.denseDir,
    corpus: { ...inp.corpus, domains: [...inp.corpus.domains], bytes: corpus.bytes },
    budget: { ...b },
    seed: inp.seed,
    backend: inp.backend ?? 'unknown',
    machine: machineInfo(),
    domains,
    validation: { blocksPerDomain: b.evalBlocks, seqLen: b.seqLen, tokensPerDomain: b.evalBlocks * (b.seqLen - 1) },
    dense: denseEval,
    runs,
    seconds,
  };
}
