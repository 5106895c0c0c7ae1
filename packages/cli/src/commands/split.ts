/**
 * `llama-moe split`: convert a dense LLaMA into a Mixture-of-Experts (LLaMA-MoE expert
 * construction). Options are validated here; the conversion is @llama-moe/expert-partition's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readLlamaConfig } from '@llama-moe/llama-model';
import { CliError, UsageError } from '../errors.js';
import { checkOutputDir, requireInputDir } from '../paths.js';
import { splitModel, FormatError, SplitError, PartitionError, GATE_INITS, DEFAULT_DROP_RATIO, CARVE_DEFAULT_GATE_INIT, isDataGateInit, type GateInit } from '@llama-moe/expert-partition';
import { calibrationFromPacked } from '../calibration.js';
import { Progress } from '../progress.js';
import { formatDuration } from '../format.js';
import { ggufToFolder, isGgufFile } from '../gguf-source.js';
import { splitToEngineFormat } from './split-export.js';
import type { CommandArgs, CommandSpec } from '../command.js';

export const SPLIT_METHODS = ['random', 'clustering', 'graph', 'gradient', 'sharing-inner', 'sharing-inter', 'upcycle', 'carve', 'drop-upcycle'] as const;
export type SplitMethod = (typeof SPLIT_METHODS)[number];
/** Methods that score neurons on calibration data (activations or gradients). */
export const DATA_METHODS: readonly SplitMethod[] = ['graph', 'gradient', 'sharing-inner', 'sharing-inter', 'carve'];
/** Methods that split the FFN into equal disjoint parts (intermediate_size must divide by E). */
const EQUAL_SPLIT: readonly SplitMethod[] = ['random', 'clustering', 'graph', 'gradient'];

/** Kept for callers that look the converter up by name. */
export const SPLIT_FUNCTION_NAMES = ['splitModel'] as const;

export async function run(args: CommandArgs): Promise<number> {
  const o = args.options as {
    model: string; out: string; experts: number; 'top-k': number; method: SplitMethod; format: 'llama-moe' | 'mixtral' | 'gguf' | 'qwen2_moe'; 'gate-network'?: 'mlp' | 'linear';
    'gate-init'?: GateInit; 'score-scale'?: number; data?: string; seed: number; recalibrate?: boolean; 'drop-ratio'?: number;
    'calibration-sequences': number; 'calibration-length': number; 'shared-size'?: number; dtype?: 'float32' | 'bfloat16' | 'float16';
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
  if (o.recalibrate && o.method !== 'carve') throw new UsageError(`--recalibrate applies to --method carve only (got --method ${o.method})`, 'drop --recalibrate, or use --method carve');
  if (o['drop-ratio'] !== undefined && o.method !== 'drop-upcycle') throw new UsageError(`--drop-ratio applies to --method drop-upcycle only (got --method ${o.method})`, 'drop --drop-ratio, or use --method drop-upcycle');
  if (o.format === 'mixtral' && (o.method === 'sharing-inter' || o.method === 'sharing-inner')) {
    throw new UsageError(`--format mixtral cannot hold the shared / overlapping experts of --method ${o.method}`, 'use --format llama-moe');
  }
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
  if (EQUAL_SPLIT.includes(o.method) && cfg.intermediate_size % o.experts !== 0) {
    throw new UsageError(`--experts ${o.experts} does not divide the model's intermediate_size ${cfg.intermediate_size}`, `pick a divisor of ${cfg.intermediate_size}`);
  }
  if (o.data !== undefined) requireInputDir(o.data, '--data', 'calibration dataset folder');
  checkOutputDir(o.out);
  const calibration = o.data !== undefined ? await calibrationFromPacked(o.data, { sequences: o['calibration-sequences'], maxLen: o['calibration-length'], experts: o.experts, seed: o.seed }) : undefined;
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
      ...(o.recalibrate ? { recalibrate: true } : {}),
      ...(o['drop-ratio'] !== undefined ? { dropRatio: o['drop-ratio'] } : {}),
      ...(o.dtype !== undefined ? { dtype: o.dtype } : {}),
      onProgress: ({ layer, layers }) => {
        bar.total = layers;
        bar.update(layer + 1);
      },
    });
  } catch (e) {
    // The converter's own validation errors are usage errors of this command.
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
    'equal experts only) that transformers loads directly. Gate weights start random, at zero, or from calibration data ' +
    '(centroids, kmeans, representative, ridge; docs/expert-construction.md); --score-scale multiplies the expert outputs (LLaMA-MoE\'s score_scale_factor).',
  usage: ['split --model DENSE --out DIR --experts E --top-k K --method METHOD [--format llama-moe|mixtral|qwen2_moe|gguf] [--gate-network mlp|linear] [--gate-init INIT] [--score-scale S] [--data CALIB] [--seed S] [--shared-size N] [--recalibrate] [--drop-ratio R]'],
  options: [
    { name: 'model', type: 'string', required: true, valueName: 'DENSE', description: 'Dense LLaMA model folder, or a dense llama GGUF file.' },
    { name: 'out', type: 'string', required: true, valueName: 'DIR', description: 'New MoE model folder (must not exist, or be empty).' },
    { name: 'experts', type: 'int', required: true, min: 1, valueName: 'E', description: 'Experts per layer.' },
    { name: 'top-k', type: 'int', required: true, min: 1, valueName: 'K', description: 'Experts each token is routed to (K <= E).' },
    { name: 'method', type: 'string', required: true, choices: SPLIT_METHODS, valueName: 'METHOD', description: `Expert construction: ${SPLIT_METHODS.join(', ')}.` },
    { name: 'format', type: 'string', choices: ['llama-moe', 'mixtral', 'qwen2_moe', 'gguf'], default: 'llama-moe', valueName: 'FMT', description: 'Output: llama-moe (default), mixtral, qwen2_moe (folders) or gguf (--out is a file; llama.cpp). qwen2_moe and gguf use a linear gate.' },
    { name: 'gate-network', type: 'string', choices: ['mlp', 'linear'], valueName: 'NET', description: "llama-moe gate: mlp (LLaMA-MoE's default; carve: linear) or linear (the router Mixtral, qwen2_moe and llama.cpp run)." },
    { name: 'gate-init', type: 'string', choices: GATE_INITS, valueName: 'INIT', description: `Gate initialisation: random (default; carve: ${CARVE_DEFAULT_GATE_INIT}), zeros, or from --data: centroids, kmeans, representative, ridge.` },
    { name: 'score-scale', type: 'number', min: 0, minExclusive: true, valueName: 'S', description: 'Scale of the expert outputs (score_scale_factor; default E/K, carve: K).' },
    { name: 'data', type: 'string', valueName: 'CALIB', description: 'Calibration data (packed dataset folder) for graph, gradient and sharing methods.' },
    { name: 'seed', type: 'int', min: 0, default: 0, valueName: 'S', description: 'Seed of random splits and gate init.' },
    { name: 'calibration-sequences', type: 'int', min: 1, default: 64, valueName: 'N', description: 'Calibration blocks drawn from --data (default 64).' },
    { name: 'calibration-length', type: 'int', min: 2, default: 256, valueName: 'T', description: 'Tokens per calibration block (default 256).' },
    { name: 'shared-size', type: 'int', min: 0, valueName: 'N', description: 'sharing-inter: neurons moved into the always-on shared expert (default F/E, at least 1); carve: size of its shared expert (default floor(F/(E+1)); 0: none, Mixtral-exportable).' },
    { name: 'recalibrate', type: 'boolean', description: 'carve: fit one output scale per expert to the dense FFN output on the calibration tokens (least squares), folded into down_proj.' },
    { name: 'drop-ratio', type: 'number', min: 0, max: 1, valueName: 'R', description: `drop-upcycle: fraction of each expert's neurons re-initialised (default ${DEFAULT_DROP_RATIO}).` },
    { name: 'dtype', type: 'string', choices: ['float32', 'bfloat16', 'float16'], valueName: 'DT', description: "Storage dtype of the output (default: the dense model's torch_dtype)." },
  ],
  examples: [
    'llama-moe split --model models/tiny --out models/tiny-moe --experts 4 --top-k 2 --method random',
    'llama-moe split --model models/llama2-7b --out models/llama-moe-3.5b --experts 16 --top-k 4 --method clustering --gate-init centroids',
    'llama-moe split --model models/tiny --out models/tiny-mixtral --experts 8 --top-k 2 --method graph --data data/packed --format mixtral',
    'llama-moe split --model models/brown --out models/brown-carve --experts 7 --top-k 3 --method carve --data data/brown-train --recalibrate',
  ],
  run,
};
