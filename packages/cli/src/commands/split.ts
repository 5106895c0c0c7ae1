/**
 * `llama-moe split`: convert a dense LLaMA into a Mixture-of-Experts (LLaMA-MoE expert
 * construction). Options are validated here; the conversion is @llama-moe/expert-partition's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readLlamaConfig } from '@llama-moe/llama-model/node';
import { CliError, UsageError } from '../errors.js';
import { checkOutputDir, requireInputDir } from '../paths.js';
import { removeStaleStaging } from '../staging-leftovers.js';
import { splitModel, FormatError, SplitError, PartitionError, GATE_INITS, DEFAULT_DROP_RATIO, CARVE_DEFAULT_GATE_INIT, isDataGateInit, type GateInit } from '@llama-moe/expert-partition/node';
import { calibrationFromPacked } from '../calibration.js';
import { Progress } from '../progress.js';
import { formatDuration } from '../format.js';
import { checkDataTokenizer } from '../tokenizer-check.js';
import { checkSplitFits } from '../split-size-check.js';
import { ggufToFolder, isGgufFile } from '../gguf-source.js';
import { splitToEngineFormat } from './split-export.js';
import type { CommandArgs, CommandSpec } from '../command.js';

export const SPLIT_METHODS = ['random', 'clustering', 'graph', 'gradient', 'sharing-inner', 'sharing-inter', 'upcycle', 'carve', 'drop-upcycle'] as const;
export type SplitMethod = (typeof SPLIT_METHODS)[number];
/** Methods that score neurons on calibration data (activations or gradients). */
export const DATA_METHODS: readonly SplitMethod[] = ['graph', 'gradient', 'sharing-inner', 'sharing-inter', 'carve'];
/** Methods that split the FFN into equal disjoint parts (intermediate_size must divide by E). */
const EQUAL_SPLIT: readonly SplitMethod[] = ['random', 'clustering', 'graph', 'gradient'];

/**
 * What `--gate-init centroids` does, in the one wording used by `split --help`, docs/cli.md and
 * docs/expert-construction.md (a test keeps them equal).
 */
export const CENTROIDS_DESCRIPTION =
  "centroids: row e of every gate is the mean FFN input of the --data calibration tokens, each token weighted by how strongly it activates expert e's neurons (the sum of |activation| over them), rescaled to the norm of a N(0, 0.02) row (MLP gate) or by the factor that best reconstructs the dense FFN output (linear gate); works with every --method and needs --data";

/** Kept for callers that look the converter up by name. */

/** `--expert-sizes 20,24,...`: E positive integers. */
export function parseExpertSizes(text: string, experts: number): number[] {
  const parts = text.split(',').map((t) => t.trim());
  if (parts.length !== experts) throw new UsageError(`--expert-sizes lists ${parts.length} sizes, --experts is ${experts}`, `give one size per expert, e.g. --expert-sizes ${Array.from({ length: experts }, () => 8).join(',')}`);
  return parts.map((p, i) => {
    if (!/^\d+$/.test(p) || Number(p) < 1) throw new UsageError(`--expert-sizes: '${p}' (item ${i + 1}) is not a positive integer`, 'pass comma-separated neuron counts');
    return Number(p);
  });
}

export async function run(args: CommandArgs): Promise<number> {
  const o = args.options as {
    model: string; out: string; experts: number; 'top-k': number; method: SplitMethod; format: 'llama-moe' | 'mixtral' | 'gguf' | 'qwen2_moe'; 'gate-network'?: 'mlp' | 'linear';
    'gate-init'?: GateInit; 'score-scale'?: number; data?: string; seed: number; recalibrate?: boolean; 'drop-ratio'?: number;
    'calibration-sequences': number; 'calibration-length': number; 'shared-size'?: number; dtype?: 'float32' | 'bfloat16' | 'float16';
    'allow-tokenizer-mismatch'?: boolean; 'expert-sizes'?: string; gate: 'noisy-topk' | 'switch' | 'expert-choice'; 'capacity-factor'?: number; 'balance-loss-weight'?: number; 'z-loss-weight'?: number;
  };
  if (o.format === 'gguf' || o.format === 'qwen2_moe') return splitToEngineFormat(args, run);
  // Usage checks first (exit 2), before any file is looked at.
  if (o['top-k'] > o.experts) throw new UsageError(`--top-k ${o['top-k']} is larger than --experts ${o.experts}`, 'each token selects top-k of the experts; pass --top-k <= --experts');
  if (DATA_METHODS.includes(o.method) && o.data === undefined) {
    throw new UsageError(`--method ${o.method} needs calibration data`, 'pass --data DIR (a packed dataset from `llama-moe data prepare`)');
  }
  if (o['gate-init'] !== undefined && isDataGateInit(o['gate-init']) && o.data === undefined) {
    throw new UsageError(`--gate-init ${o['gate-init']} needs calibration data`, 'pass --data DIR (a packed dataset from `llama-moe data prepare`)');
  }
  if (o.gate === 'switch' && o['top-k'] !== 1) throw new UsageError(`--gate switch routes every token to one expert; pass --top-k 1, not ${o['top-k']}`, 'the switch gate is top-1 with an expert capacity (--capacity-factor)');
  if (o.gate !== 'noisy-topk' && o.format === 'mixtral') throw new UsageError(`--format mixtral cannot hold the ${o.gate} gate (Mixtral routes top-k with softmax and drops no tokens)`, 'use --format llama-moe');
  if (o['z-loss-weight'] !== undefined && o.format === 'mixtral') throw new UsageError('--z-loss-weight needs --format llama-moe (a Mixtral config.json has no z-loss key)', 'use --format llama-moe');
  if (o['capacity-factor'] !== undefined && o.gate === 'noisy-topk') throw new UsageError('--capacity-factor applies only to --gate switch and --gate expert-choice', 'add --gate switch (with --top-k 1) or --gate expert-choice, or drop --capacity-factor');
  if (o.recalibrate && o.method !== 'carve') throw new UsageError(`--recalibrate applies to --method carve only (got --method ${o.method})`, 'drop --recalibrate, or use --method carve');
  if (o['drop-ratio'] !== undefined && o.method !== 'drop-upcycle') throw new UsageError(`--drop-ratio applies to --method drop-upcycle only (got --method ${o.method})`, 'drop --drop-ratio, or use --method drop-upcycle');
  if (o.format === 'mixtral' && (o.method === 'sharing-inter' || o.method === 'sharing-inner')) {
    throw new UsageError(`--format mixtral cannot hold the shared / overlapping experts of --method ${o.method}`, 'use --format llama-moe');
  }
  const expertSizes = o['expert-sizes'] === undefined ? undefined : parseExpertSizes(o['expert-sizes'], o.experts);
  /** A gate initialised from the calibration data. */
  const dataGate = o['gate-init'] !== undefined && isDataGateInit(o['gate-init']);
  if (expertSizes && o.method === 'upcycle') throw new UsageError('--expert-sizes does not apply to --method upcycle (every expert is a full copy of the FFN)', 'drop --expert-sizes');
  if (o['shared-size'] !== undefined && o.method !== 'sharing-inter' && o.method !== 'carve') throw new UsageError(`--shared-size applies only to --method sharing-inter and carve, not ${o.method}`, 'drop --shared-size or use --method sharing-inter or carve');
  if (o['shared-size'] === 0 && o.method === 'sharing-inter') throw new UsageError('--shared-size must be at least 1 for --method sharing-inter', 'pass a positive size, or use another method for no shared expert');
  // Then the inputs (exit 1). A dense GGUF is first written as a Hugging Face folder beside --out.
  if (isGgufFile(o.model)) {
    checkOutputDir(o.out);
    const src = `${path.resolve(o.out)}.gguf-source-${process.pid}`;
    try {
      ggufToFolder(o.model, src);
      return await run({ ...args, options: { ...args.options, model: src } });
    } finally {
      fs.rmSync(src, { recursive: true, force: true });
    }
  }
  requireInputDir(o.model, '--model', 'model folder');
  if (!fs.existsSync(path.join(o.model, 'config.json'))) throw new CliError(`--model ${o.model}: no config.json in the folder`, 'pass a dense Hugging Face LLaMA model folder');
  const cfg = readLlamaConfig(o.model);
  if (cfg.model_type === 'llama_moe' || cfg.model_type === 'mixtral') {
    throw new CliError(`--model ${o.model}: is already a ${cfg.model_type} MoE model`, 'pass a dense llama model, or use `llama-moe merge-experts` first');
  }
  if (expertSizes) {
    const sum = expertSizes.reduce((a, b) => a + b, 0);
    const want = o.method === 'sharing-inter' ? cfg.intermediate_size - (o['shared-size'] ?? 0) : cfg.intermediate_size;
    if (o.method === 'sharing-inter' ? (o['shared-size'] !== undefined && sum !== want) || sum >= cfg.intermediate_size : o.method !== 'sharing-inner' && sum !== want) {
      throw new UsageError(`--expert-sizes sum to ${sum}, but ${o.method === 'sharing-inter' ? `intermediate_size ${cfg.intermediate_size} minus --shared-size is ${want}` : `the model's intermediate_size is ${cfg.intermediate_size}`}`, 'sizes of a disjoint split add up to intermediate_size');
    }
  } else if (EQUAL_SPLIT.includes(o.method) && cfg.intermediate_size % o.experts !== 0) {
    throw new UsageError(`--experts ${o.experts} does not divide the model's intermediate_size ${cfg.intermediate_size}`, `pick a divisor of ${cfg.intermediate_size}`);
  }
  if (o.data !== undefined) requireInputDir(o.data, '--data', 'calibration dataset folder');
  checkOutputDir(o.out);
  checkSplitFits({
    cfg, experts: o.experts, method: o.method, format: o.format, dtype: o.dtype ?? cfg.torch_dtype ?? 'float32', out: o.out,
    inMemory: DATA_METHODS.includes(o.method) || dataGate,
    what: `--experts ${o.experts} --method ${o.method}`,
  });
  removeStaleStaging(o.out, (l) => args.io.stderr(`llama-moe ${args.command}: ${l}\n`));
  // Calibration data feeds only the data-driven methods and data gate inits; elsewhere say that it is not read.
  const usesData = DATA_METHODS.includes(o.method) || dataGate;
  if (o.data !== undefined && !usesData) {
    args.io.stderr(`llama-moe split: warning: --data has no effect with --method ${o.method} and --gate-init ${o['gate-init'] ?? 'random'}; it is not read (it is used by --method ${DATA_METHODS.join(', ')} and by --gate-init ${GATE_INITS.filter((g) => isDataGateInit(g)).join(', ')})\n`);
  }
  if (o.data !== undefined && usesData) checkDataTokenizer(o.data, o.model, { dataOption: '--data', modelOption: '--model', allowMismatch: !!o['allow-tokenizer-mismatch'], warn: (line) => args.io.stderr(`llama-moe split: ${line}\n`) });
  const calibration = o.data !== undefined && usesData ? await calibrationFromPacked(o.data, { sequences: o['calibration-sequences'], maxLen: o['calibration-length'], experts: o.experts, seed: o.seed }) : undefined;
  const bar = new Progress(args.io, `split (${o.method})`, { unit: 'items', noun: 'layers', quiet: args.quiet });
  const t0 = performance.now();
  let result;
  try {
    result = splitModel({
      model: o.model,
      out: o.out,
      experts: o.experts,
      topK: o['top-k'],
      method: o.method,
      format: o.format,
      ...(o['gate-network'] !== undefined ? { gateNetwork: o['gate-network'] } : {}),
      gateInit: o['gate-init'],
      scoreScale: o['score-scale'],
      seed: o.seed,
      calibration,
      ...(o['shared-size'] !== undefined ? { sharedSize: o['shared-size'] } : {}),
      ...(expertSizes ? { sizeExperts: expertSizes } : {}),
      ...(o.gate === 'switch' ? { gateType: 'SwitchBalancedGate' as const } : o.gate === 'expert-choice' ? { gateType: 'ExpertChoiceGate' as const } : {}),
      ...(o['capacity-factor'] !== undefined ? { capacityFactor: o['capacity-factor'] } : {}),
      ...(o['balance-loss-weight'] !== undefined ? { balanceLossWeight: o['balance-loss-weight'] } : {}),
      ...(o['z-loss-weight'] !== undefined ? { zLossWeight: o['z-loss-weight'] } : {}),
      ...(o.recalibrate ? { recalibrate: true } : {}),
      ...(o['drop-ratio'] !== undefined ? { dropRatio: o['drop-ratio'] } : {}),
      ...(o.dtype !== undefined ? { dtype: o.dtype } : {}),
      onProgress: ({ layer, layers }) => {
        bar.total = layers;
        bar.update(layer + 1);
      },
    });
  } catch (e) {
    // The converter's checks of the options are usage errors of this command (exit 2); its findings
    // about the model's own files (model_type, mlp_bias, a tensor's shape) are runtime errors (exit 1),
    // as every other command reports a damaged checkpoint.
    if ((e instanceof SplitError || e instanceof FormatError) && e.message.startsWith(`${o.model}:`)) throw new CliError(e.message, 'the checkpoint does not match its config.json; re-save or re-download it');
    if (e instanceof SplitError || e instanceof FormatError || e instanceof PartitionError) throw new UsageError(e.message, 'see `llama-moe split --help`');
    throw e;
  } finally {
    bar.done();
  }
  if (!args.quiet) args.io.stdout(`wrote ${o.out}: ${o.format} model, ${o.experts} experts, top-${o['top-k']}, method ${o.method}, in ${formatDuration(performance.now() - t0)}\n`);
  // carve's fitted routers: how far each layer's MoE output is from the dense FFN's on the calibration tokens.
  const fits = result.routerFits?.filter((f) => f.error !== null && f.denseNorm);
  if (!args.quiet && fits?.length) {
    const rel = (k: 'error' | 'recalibratedError') => fits.map((f) => (f[k]! / f.denseNorm!).toFixed(3)).join(' ');
    args.io.stdout(`router fit: relative error of each layer's output vs the dense FFN on calibration tokens: ${rel('error')}${o.recalibrate ? `; after --recalibrate: ${rel('recalibratedError')}` : ''}\n`);
  }
  return 0;
}

export const splitCommand: CommandSpec = {
  name: 'split',
  summary: 'Turn a dense LLaMA into a Mixture-of-Experts (expert construction)',
  description:
    'Splits the FFN of every layer of a dense LLaMA into E experts (LLaMA-MoE, Zhu et al. 2024) and adds a top-K gate. ' +
    'Methods: random (independent random split), clustering (balanced k-means of up_proj rows), graph (co-activation ' +
    'graph partition, needs --data), gradient (importance from gradients, needs --data), sharing-inner / sharing-inter ' +
    '(neuron sharing within / across experts, needs --data), upcycle (every expert a full FFN copy, Sparse Upcycling), ' +
    'carve (training-free: the most often highly-active neurons form an always-on shared expert, the rest are grouped by ' +
    'co-activation, and a linear router is fitted in closed form; needs --data; --recalibrate fits per-expert output scales), ' +
    'drop-upcycle (full copies with a fraction --drop-ratio of each expert\'s neurons re-initialised, Drop-Upcycling). ' +
    'The result is written as a LLaMA-MoE checkpoint (model_type llama_moe) or as a Mixtral checkpoint (--format mixtral, ' +
    'equal experts only) that transformers loads directly. Gate weights start random (N(0, 0.02)), at zero, or from ' +
    'calibration data (centroids, kmeans, representative, ridge; see --gate-init and docs/expert-construction.md); --score-scale multiplies the expert outputs (LLaMA-MoE\'s score_scale_factor). ' +
    '--data is read only by the data-driven methods (graph, gradient, sharing, carve) and by data gate inits (a warning says when it is ignored), and must ' +
    'have been packed with the model\'s tokenizer.',
  usage: ['split --model DENSE --out DIR --experts E --top-k K --method METHOD [--format llama-moe|mixtral|qwen2_moe|gguf] [--gate-network mlp|linear] [--gate noisy-topk|switch|expert-choice] [--gate-init INIT] [--score-scale S] [--data CALIB] [--seed S] [--expert-sizes N,N,...] [--shared-size N] [--recalibrate] [--drop-ratio R]'],
  options: [
    { name: 'model', type: 'string', required: true, valueName: 'DENSE', description: 'Dense LLaMA model folder, or a dense llama GGUF file.' },
    { name: 'out', type: 'string', required: true, valueName: 'DIR', description: 'New MoE model folder (must not exist, or be empty).' },
    { name: 'experts', type: 'int', required: true, min: 1, valueName: 'E', description: 'Experts per layer.' },
    { name: 'top-k', type: 'int', required: true, min: 1, valueName: 'K', description: 'Experts each token is routed to (K <= E).' },
    { name: 'method', type: 'string', required: true, choices: SPLIT_METHODS, valueName: 'METHOD', description: `Expert construction: ${SPLIT_METHODS.join(', ')}.` },
    { name: 'format', type: 'string', choices: ['llama-moe', 'mixtral', 'qwen2_moe', 'gguf'], default: 'llama-moe', valueName: 'FMT', description: 'Output: llama-moe (default), mixtral, qwen2_moe (folders) or gguf (--out is a file; llama.cpp). qwen2_moe and gguf use a linear gate.' },
    { name: 'gate-network', type: 'string', choices: ['mlp', 'linear'], valueName: 'NET', description: "llama-moe gate: mlp (LLaMA-MoE's default; carve: linear) or linear (the router Mixtral, qwen2_moe and llama.cpp run)." },
    { name: 'gate-init', type: 'string', choices: GATE_INITS, valueName: 'INIT', description: `Gate initialisation: random (N(0, 0.02), the default; carve: ${CARVE_DEFAULT_GATE_INIT}), zeros, from --data kmeans, representative or ridge (docs/expert-construction.md), or ${CENTROIDS_DESCRIPTION}.` },
    { name: 'gate', type: 'string', choices: ['noisy-topk', 'switch', 'expert-choice'], default: 'noisy-topk', valueName: 'GATE', description: "Gate of the llama-moe format: noisy-topk (TopKBalancedNoisyGate, LLaMA-MoE's default; balance loss cv²(importance) + cv²(load)), switch (SwitchBalancedGate: top-1, each expert takes at most floor(capacity_factor · T / E) tokens and drops the rest; balance loss E·Σ f·P) or expert-choice (each expert picks its top floor(capacity_factor · T / E) tokens, so a token gets any number of experts, k on average; no balance loss needed; runs here, not in LLaMA-MoE's released code). Stored in config.json, so train, eval, generate and routing use it." },
    { name: 'capacity-factor', type: 'number', min: 0, minExclusive: true, valueName: 'X', description: 'Switch and expert-choice gates: expert capacity factor (default: 1.25 for switch, --top-k for expert-choice).' },
    { name: 'balance-loss-weight', type: 'number', min: 0, valueName: 'W', description: "Weight of the gate's balance loss in training (gate_balance_loss_weight; default 0.01)." },
    { name: 'z-loss-weight', type: 'number', min: 0, valueName: 'W', description: 'ST-MoE router z-loss weight, W · mean(logsumexp(gate logits)²) added to the balance loss in training (config key gate_z_loss_weight; llama-moe format; default 0, off).' },
    { name: 'score-scale', type: 'number', min: 0, minExclusive: true, valueName: 'S', description: 'Scale of the expert outputs (score_scale_factor; default E/K, carve: K).' },
    { name: 'data', type: 'string', valueName: 'CALIB', description: 'Calibration data (packed dataset folder) for the graph, gradient, sharing and carve methods and for the data gate inits (centroids, kmeans, representative, ridge); ignored (with a warning) otherwise.' },
    { name: 'allow-tokenizer-mismatch', type: 'boolean', description: "Use --data even if it was packed with another tokenizer than the model's (default: refuse)." },
    { name: 'seed', type: 'int', min: 0, default: 0, valueName: 'S', description: 'Seed of random splits and gate init.' },
    { name: 'calibration-sequences', type: 'int', min: 1, default: 64, valueName: 'N', description: 'Calibration blocks drawn from --data (default 64).' },
    { name: 'calibration-length', type: 'int', min: 2, default: 256, valueName: 'T', description: 'Tokens per calibration block (default 256).' },
    { name: 'shared-size', type: 'int', min: 0, valueName: 'N', description: 'sharing-inter: neurons moved into the always-on shared expert (default F/E, at least 1); carve: size of its shared expert (default floor(F/(E+1)); 0: none, Mixtral-exportable).' },
    { name: 'expert-sizes', type: 'string', valueName: 'N,N,...', description: 'Unequal experts: the neurons of each of the E experts, the same in every layer (random, clustering, graph and gradient: they sum to F; sharing-inter: to F minus the shared size).' },
    { name: 'recalibrate', type: 'boolean', description: 'carve: fit one output scale per expert to the dense FFN output on the calibration tokens (least squares), folded into down_proj.' },
    { name: 'drop-ratio', type: 'number', min: 0, max: 1, valueName: 'R', description: `drop-upcycle: fraction of each expert's neurons re-initialised (default ${DEFAULT_DROP_RATIO}).` },
    { name: 'dtype', type: 'string', choices: ['float32', 'bfloat16', 'float16'], valueName: 'DT', description: "Storage dtype of the output (default: the dense model's torch_dtype)." },
  ],
  examples: [
    'llama-moe split --model models/tiny --out models/tiny-moe --experts 4 --top-k 2 --method random',
    'llama-moe split --model models/tiny --out models/tiny-moe-clustered --experts 4 --top-k 2 --method clustering --gate-init centroids --data data/packed',
    'llama-moe split --model models/tiny --out models/tiny-mixtral --experts 8 --top-k 2 --method graph --data data/packed --format mixtral',
    'llama-moe split --model models/tiny --out models/tiny-switch --experts 4 --top-k 1 --method random --gate switch --capacity-factor 1.0',
    'llama-moe split --model models/tiny --out models/tiny-carve --experts 3 --top-k 2 --method carve --data data/packed --recalibrate',
  ],
  run,
};
