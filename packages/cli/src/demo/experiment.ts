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
import { MultiDomainSampler, type DomainSource, type Tokenizer as SamplerTokenizer } from '@llama-moe/data-sampler';
import { generate, loadLlama, loadTokenizer, saveLlama, type LlamaForCausalLM, type Tokenizer } from '@llama-moe/llama-model/node';
import { defaultGateInit, isDataGateInit, loadMoeModel, saveMoeModel, splitModel, type GateInit, type PartitionMethod } from '@llama-moe/expert-partition/node';
import { RoutingStatsAccumulator } from '@llama-moe/router';
import { indices, noGrad } from '@llama-moe/tensor-core';
import { evaluatePerplexity, llamaOf, train, type EvalRecord, type MetricRecord, type PerplexityReport, type ProgressStream, type TrainRecord, type TrainableModel } from '@llama-moe/trainer';
import { packedSplit } from '../brown/data.js';
import { cachedSamplerTokenizer, experimentData, type ExperimentCorpus } from './data.js';
import type { TrainBudget } from './recipe.js';

export const DEMO_METHODS = ['random', 'clustering'] as const;
export type DemoMethod = PartitionMethod;

/** Construction methods that read calibration tokens (the experiment draws them from the train split). */
const CALIBRATED_METHODS = new Set<PartitionMethod>(['graph', 'gradient', 'sharing-inner', 'sharing-inter', 'carve']);

export interface MoeVariant {
  method: PartitionMethod;
  experts: number;
  topK: number;
  /**
   * The router's init when not the method's own (`split`'s default: N(0, 0.02) for the paper's
   * methods, ridge for carve). A data init on a paper partition gets carve's router treatment: a
   * linear gate, score scale k and the fitted row scale (as docs/BEYOND-PAPER.md measures it).
   */
  gateInit?: GateInit;
  /** carve's --recalibrate: per-expert output scales fitted to the dense FFN, folded into down_proj. */
  recalibrate?: boolean;
}

/** How the domains are mixed during continual pre-training. */
export type DomainWeighting = 'dynamic' | 'uniform' | 'size';

/**
 * `random-2of8`: the paper's "k/E" naming; a router init other than the method's default and
 * --recalibrate show in the name (`random-ridge-2of8`, `carve+recal-kmeans-2of8`).
 */
export function variantName(v: MoeVariant): string {
  const init = v.gateInit && v.gateInit !== defaultGateInit(v.method) ? `-${v.gateInit}` : '';
  return `${v.method}${v.recalibrate ? '+recal' : ''}${init}-${v.topK}of${v.experts}`;
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
  corpus: ExperimentCorpus;
  /** Split, data order and gate-noise seed. */
  seed: number;
  /**
   * dynamic (default): the Sheared-LLaMA rule with the dense model's per-domain losses as
   * reference, starting from the SlimPajama mix (synthetic corpus) or the domains' sizes (Brown);
   * uniform / size: static weights.
   */
  domainWeights?: DomainWeighting;
  /** Also score every model on the test split (Brown): the first N blocks per domain (Infinity = all). */
  testBlocks?: number;
  /** Greedy continuation of this prompt by the dense model and by each MoE after the split and after training. */
  prompt?: string;
  /** Measure routing specialisation (mutual information between domain and expert choice, per layer) before and after training. */
  routing?: boolean;
  /** Reuse a run whose runs/<name>/result.json exists (a resumed experiment). */
  resume?: boolean;
  /** Calibration sequences of budget.seqLen tokens for the data-driven methods. Default 64. */
  calibrationSequences?: number;
  /** Also continue pre-training the dense model on the same budget. */
  denseControl?: boolean;
  /** Stage headings and notes (one line each, no newline). */
  log?: (line: string) => void;
  /** The trainer's per-step progress; null for none. */
  progress?: ProgressStream | null;
  /** Backend detail for the summary. */
  backend?: string;
}

/** Routing specialisation of one model on one set of blocks. */
export interface RoutingSpecialisation {
  /** Per layer: mutual information between a token's domain and each of its k expert choices, in bits. */
  mutualInformation: number[];
  /** Per layer, per domain: the share of the domain's expert choices that went to each expert ([L][domain][E]). */
  load: Record<string, number[]>[];
}

export interface RunSummary {
  name: string;
  kind: 'moe' | 'dense';
  method: PartitionMethod | 'dense';
  experts: number;
  topK: number;
  /** The router's init (MoE runs). */
  gateInit?: GateInit;
  /** carve's --recalibrate was on. */
  recalibrate?: boolean;
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
  /** Test split (when the experiment asks for it). */
  test?: { before: PerplexityReport; after: PerplexityReport };
  /** Greedy continuation of the experiment's prompt. */
  continuation?: { split: string | null; trained: string };
  /** Routing specialisation on the test (else validation) blocks, right after the split and after training. */
  routing?: { before: RoutingSpecialisation; after: RoutingSpecialisation };
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
  corpus: ExperimentCorpus & { bytes: number; description: string };
  budget: TrainBudget;
  seed: number;
  domainWeights: DomainWeighting;
  backend: string;
  machine: MachineInfo;
  domains: string[];
  /** Validation blocks per domain × tokens per block. */
  validation: { blocksPerDomain: number; seqLen: number; tokensPerDomain: number };
  dense: PerplexityReport;
  /** The dense model on the test blocks, when asked for. */
  denseTest?: PerplexityReport;
  /** Test blocks per domain scored (when asked for). */
  testBlocks?: Record<string, number>;
  /** The prompt and the dense model's greedy continuation. */
  continuation?: { prompt: string; dense: string };
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
  return evaluatePerplexity(model, validation, { batchSize: 8 });
}

function trainConfig(b: TrainBudget, seed: number, referenceLoss: Record<string, number>, quietTrainer: boolean, moe: boolean, weighting: DomainWeighting, sizeWeights: Record<string, number> | null): Record<string, unknown> {
  const staticWeights = weighting === 'uniform' ? 'uniform' : (sizeWeights ?? 'uniform');
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
    // domains where the MoE lags the dense model most. On Brown the start is the domains' sizes.
    domain_weights: weighting === 'dynamic' ? (sizeWeights ?? 'sheared_llama') : staticWeights,
    dynamic: weighting === 'dynamic' ? { rule: 'sheared_llama', update_every: b.evalEvery, reference_loss: referenceLoss } : null,
    ...(b.shuffleBuffer !== undefined ? { shuffle_buffer: b.shuffleBuffer } : {}),
    stats_every: moe ? Math.max(1, Math.min(10, Math.floor(b.steps / 4))) : 0,
    log_every: Math.max(1, Math.floor(b.steps / 5)),
    quiet: quietTrainer,
    report: true,
  };
}

/**
 * Routing specialisation: every block of each domain through the model (no grad, eval mode), the
 * k expert choices of every token counted per layer, domain and expert; the mutual information
 * I(domain; expert) per layer, in bits (0 = the experts a token gets do not depend on its domain).
 */
export function routingSpecialisation(model: LlamaForCausalLM, blocks: Readonly<Record<string, readonly Int32Array[]>>, batchSize = 8): RoutingSpecialisation {
  const domains = Object.keys(blocks);
  /** Every layer's load per domain (router's accumulator, made on the first record). */
  let stats: RoutingStatsAccumulator | null = null;
  domains.forEach((d) => {
    const bs = blocks[d]!;
    for (let i = 0; i < bs.length; i += batchSize) {
      const batch = bs.slice(i, i + batchSize);
      const T = batch[0]!.length;
      const ids = new Int32Array(batch.length * T);
      batch.forEach((b, j) => ids.set(b, j * T));
      const out = noGrad(() => model.forward(indices(ids, [batch.length, T]), { training: false, collectStats: true }));
      for (const rec of out.records) {
        stats ??= new RoutingStatsAccumulator(rec.load.length);
        stats.add({ load: rec.load, numTokens: rec.numTokens }, rec.layer, d);
      }
    }
  });
  const mutualInformation: number[] = [];
  const load: Record<string, number[]>[] = [];
  const acc = stats as RoutingStatsAccumulator | null;
  for (const layer of acc?.layers() ?? []) {
    mutualInformation.push(acc!.mutualInformation(layer));
    load.push(Object.fromEntries(domains.map((d) => [d, acc!.summary(layer, d)?.loadFraction ?? new Array<number>(acc!.numExperts).fill(0)])));
  }
  return { mutualInformation, load };
}

/** Calibration sequences for the data-driven constructions: a seeded, domain-uniform draw from the train split. */
async function calibrationSequences(sources: DomainSource[], tokenizer: SamplerTokenizer, seqLen: number, n: number, seed: number): Promise<Int32Array[]> {
  const sampler = new MultiDomainSampler({ sources, tokenizer, seqLen, seed, weights: 'uniform', normalizeWeights: true });
  const out: Int32Array[] = [];
  try {
    for (let i = 0; i < n; i++) out.push(Int32Array.from((await sampler.nextBatch(1)).inputIds.subarray(0, seqLen)));
  } finally {
    await Promise.resolve(sampler.close?.());
  }
  return out;
}

/** The greedy continuation of `prompt` (32 new tokens, decoded). */
function continueText(model: LlamaForCausalLM, tok: Tokenizer, prompt: string): string {
  const ids = tok.encode(prompt, { addBos: true, addEos: false });
  return tok.decode(generate(model, ids, { maxNewTokens: 32 }).tokens, { skipSpecialTokens: true });
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
  const weighting = inp.domainWeights ?? 'dynamic';
  const seconds: ExperimentSummary['seconds'] = { total: 0, data: 0, denseEval: 0, runs: {} };
  const rel = (p: string) => path.relative(inp.workDir, p).split(path.sep).join('/');
  fs.mkdirSync(path.join(inp.workDir, 'runs'), { recursive: true });

  let t = performance.now();
  const tok = loadTokenizer(inp.denseDir, { engine: 'auto' });
  const samplerTok: SamplerTokenizer = cachedSamplerTokenizer(tok);
  const data = await experimentData(inp.corpus, samplerTok, b.seqLen, b.evalBlocks);
  log(`data: ${data.description}; validation ${b.evalBlocks} blocks × ${b.seqLen} tokens per domain`);
  const sources: DomainSource[] = data.train;
  const validation = data.validation;
  const domains = Object.keys(validation);
  const testBlocks = inp.testBlocks !== undefined && data.test ? packedSplit(data.test, samplerTok, b.seqLen, Number.isFinite(inp.testBlocks) ? inp.testBlocks : undefined) : null;
  /** Where routing specialisation is measured: the test blocks, else the validation blocks. */
  const routingBlocks = testBlocks ?? validation;
  seconds.data = (performance.now() - t) / 1000;
  const tokenizerFiles = readTokenizerFiles(inp.denseDir);

  log(`dense: per-domain perplexity of ${inp.denseDir} on ${b.evalBlocks} held-out blocks × ${b.seqLen} tokens per domain`);
  t = performance.now();
  const dense = loadLlama(inp.denseDir);
  const denseEval = evalModel(dense, validation);
  const denseTest = testBlocks ? evalModel(dense, testBlocks) : undefined;
  const denseContinuation = inp.prompt !== undefined ? continueText(dense, tok, inp.prompt) : undefined;
  seconds.denseEval = (performance.now() - t) / 1000;
  log(`dense: overall perplexity ${denseEval.overall.ppl.toFixed(3)}${denseTest ? `; test ${denseTest.overall.ppl.toFixed(3)}` : ''}`);
  const referenceLoss = Object.fromEntries(Object.entries(denseEval.perDomain).map(([d, r]) => [d, r.loss]));
  const quietTrainer = inp.progress === null;
  let calibration: Int32Array[] | null = null;

  /** Continual pre-training of one model on the shared budget, data and validation blocks. */
  const continualPretrain = (model: TrainableModel, trainDir: string, moe: boolean, save: (m: TrainableModel, dir: string) => void, load?: (dir: string) => TrainableModel) => {
    // A run interrupted before it finished starts again from scratch (its result is what resumes).
    fs.rmSync(trainDir, { recursive: true, force: true });
    return train(trainConfig(b, inp.seed, referenceLoss, quietTrainer, moe, weighting, data.sizeWeights), {
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
  };
  /** A finished run's summary, read back when resuming. */
  const finished = (runDir: string): RunSummary | null => {
    const f = path.join(runDir, 'result.json');
    return inp.resume && fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, 'utf8')) as RunSummary) : null;
  };
  const record = (runDir: string, r: RunSummary, tRun: number) => {
    fs.writeFileSync(path.join(runDir, 'result.json.tmp'), JSON.stringify(r, null, 2) + '\n');
    fs.renameSync(path.join(runDir, 'result.json.tmp'), path.join(runDir, 'result.json'));
    runs.push(r);
    seconds.runs[r.name] = (performance.now() - tRun) / 1000;
  };

  const runs: RunSummary[] = [];
  const total = inp.variants.length + (inp.denseControl ? 1 : 0);
  let index = 0;
  for (const v of inp.variants) {
    index++;
    const name = variantName(v);
    const runDir = path.join(inp.workDir, 'runs', name);
    const done = finished(runDir);
    if (done) {
      log(`[${index}/${total}] ${name}: done in an earlier invocation (${rel(path.join(runDir, 'result.json'))})`);
      runs.push(done);
      continue;
    }
    const initDir = path.join(runDir, 'init');
    const trainDir = path.join(runDir, 'train');
    const tRun = performance.now();
    log(`[${index}/${total}] ${name}: split the FFNs into ${v.experts} experts (${v.method}), top-${v.topK}, LLaMA-MoE format`);
    const gateInit = v.gateInit ?? defaultGateInit(v.method);
    const calibrated = CALIBRATED_METHODS.has(v.method) || isDataGateInit(gateInit);
    if (calibrated && !calibration) {
      calibration = await calibrationSequences(sources, samplerTok, b.seqLen, inp.calibrationSequences ?? 64, inp.seed);
    }
    splitModel({
      model: inp.denseDir, out: initDir, experts: v.experts, topK: v.topK, method: v.method, format: 'llama-moe', seed: inp.seed, dtype: 'float32', overwrite: true,
      gateInit, ...(v.recalibrate ? { recalibrate: true } : {}),
      // A data router on a paper partition: carve's treatment (linear gate, score scale k), see MoeVariant.gateInit.
      ...(isDataGateInit(gateInit) && v.method !== 'carve' ? { gateNetwork: 'linear' as const, scoreScale: v.topK } : {}),
      ...(calibrated ? { calibration: { sequences: calibration! } } : {}),
    });
    const moe = loadMoeModel(initDir, { seed: inp.seed });
    const before = evalModel(moe, validation);
    const testBefore = testBlocks ? evalModel(moe, testBlocks) : undefined;
    const splitText = inp.prompt !== undefined ? continueText(moe, tok, inp.prompt) : undefined;
    const routingBefore = inp.routing ? routingSpecialisation(moe, routingBlocks) : undefined;
    log(`[${index}/${total}] ${name}: perplexity before training ${before.overall.ppl.toFixed(3)}; continual pre-training ${b.steps} steps × ${b.batchSize} × ${b.seqLen} tokens`);
    const tTrain = performance.now();
    const result = await continualPretrain(
      moe,
      trainDir,
      true,
      (m, dir) => saveMoeModel(llamaOf(m), dir, { overwrite: true, dtype: 'float32', extraFiles: tokenizerFiles }),
      (dir) => loadMoeModel(dir, { seed: inp.seed }),
    );
    const trainSeconds = (performance.now() - tTrain) / 1000;
    const trained = llamaOf(result.model);
    const after = evalModel(trained, validation);
    log(`[${index}/${total}] ${name}: perplexity after training ${after.overall.ppl.toFixed(3)} (dense ${denseEval.overall.ppl.toFixed(3)})`);
    record(runDir, {
      name, kind: 'moe', method: v.method, experts: v.experts, topK: v.topK, gateInit, ...(v.recalibrate ? { recalibrate: true } : {}), activeFfnFraction: activeFraction(v), before, after,
      trainLoss: trainLosses(result.history), tokens: b.steps * b.batchSize * b.seqLen, trainSeconds, finalDomainWeights: lastWeights(result.history),
      paths: { init: rel(initDir), model: rel(result.checkpoint ?? trainDir), report: rel(path.join(trainDir, 'report.html')), metrics: rel(path.join(trainDir, 'metrics.jsonl')) },
      ...(testBlocks ? { test: { before: testBefore!, after: evalModel(trained, testBlocks) } } : {}),
      ...(inp.prompt !== undefined ? { continuation: { split: splitText!, trained: continueText(trained, tok, inp.prompt) } } : {}),
      ...(inp.routing ? { routing: { before: routingBefore!, after: routingSpecialisation(trained, routingBlocks) } } : {}),
    }, tRun);
  }

  if (inp.denseControl) {
    index++;
    const name = DENSE_CONTROL_NAME;
    const runDir = path.join(inp.workDir, 'runs', name);
    const done = finished(runDir);
    if (done) {
      log(`[${index}/${total}] ${name}: done in an earlier invocation`);
      runs.push(done);
    } else {
      const trainDir = path.join(runDir, 'train');
      const tRun = performance.now();
      log(`[${index}/${total}] ${name}: the dense model, continual pre-training on the same budget (control)`);
      const model = loadLlama(inp.denseDir);
      const result = await continualPretrain(model, trainDir, false, (m, dir) =>
        saveLlama(llamaOf(m), dir, { overwrite: true, dtype: 'float32', extraFiles: tokenizerFiles }));
      const trainSeconds = (performance.now() - tRun) / 1000;
      const trained = llamaOf(result.model);
      const after = evalModel(trained, validation);
      log(`[${index}/${total}] ${name}: perplexity after training ${after.overall.ppl.toFixed(3)}`);
      record(runDir, {
        name, kind: 'dense', method: 'dense', experts: 1, topK: 1, activeFfnFraction: 1, before: denseEval, after,
        trainLoss: trainLosses(result.history), tokens: b.steps * b.batchSize * b.seqLen, trainSeconds, finalDomainWeights: lastWeights(result.history),
        paths: { init: null, model: rel(result.checkpoint ?? trainDir), report: rel(path.join(trainDir, 'report.html')), metrics: rel(path.join(trainDir, 'metrics.jsonl')) },
        ...(testBlocks ? { test: { before: denseTest!, after: evalModel(trained, testBlocks) } } : {}),
        ...(inp.prompt !== undefined ? { continuation: { split: null, trained: continueText(trained, tok, inp.prompt) } } : {}),
      }, tRun);
    }
  }

  seconds.total = (performance.now() - t0) / 1000;
  return {
    format: 'llama-moe-experiment',
    version: 1,
    created: new Date().toISOString(),
    denseModel: inp.denseDir,
    corpus: { ...inp.corpus, ...('domains' in inp.corpus ? { domains: [...inp.corpus.domains] } : {}), bytes: data.bytes, description: data.description },
    budget: { ...b },
    seed: inp.seed,
    domainWeights: weighting,
    backend: inp.backend ?? 'unknown',
    machine: machineInfo(),
    domains,
    validation: { blocksPerDomain: b.evalBlocks, seqLen: b.seqLen, tokensPerDomain: b.evalBlocks * (b.seqLen - 1) },
    dense: denseEval,
    ...(denseTest ? { denseTest, testBlocks: Object.fromEntries(Object.entries(testBlocks!).map(([d, bs]) => [d, bs.length])) } : {}),
    ...(denseContinuation !== undefined ? { continuation: { prompt: inp.prompt!, dense: denseContinuation } } : {}),
    runs,
    seconds,
  };
}

/** Share of the FFN neurons a token uses: k of E equal experts, plus the shared ones for sharing-inter. */
function activeFraction(v: MoeVariant): number {
  if (v.method === 'upcycle' || v.method === 'drop-upcycle') return v.topK;
  if (v.method === 'sharing-inter') return 1 / v.experts + (v.topK / v.experts) * (1 - 1 / v.experts);
  // carve's default shared expert is one routed expert's worth: E + 1 nearly equal blocks, 1 + k of them on.
  if (v.method === 'carve') return (1 + v.topK) / (v.experts + 1);
  return v.topK / v.experts;
}
