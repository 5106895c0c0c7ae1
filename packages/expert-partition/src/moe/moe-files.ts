/** MoE model folders on disk (Node): save, load, and merge the experts back into a dense folder. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LlamaForCausalLM, loadLlamaFrom, openCheckpoint, readLlamaConfig, saveLlama, type SaveDType } from '@llama-moe/llama-model/node';
import { FormatError, mixtralIncompatibility } from '../formats/mixtral.js';
import { PARTITION_FILE, partitionFileOf } from './partition-file.js';
import { loadMoeModelFrom, moeTensors, type SaveMoeOptions } from './moe-model.js';
import { mergeExperts } from './merge.js';
import { moeConfigJson, moeConfigOf } from './moe-config.js';

export function saveMoeModel(model: LlamaForCausalLM, dir: string, opts: SaveMoeOptions = {}): void {
  const info = moeConfigOf(model.config);
  if (!info) throw new FormatError(`saveMoeModel: not an MoE model (model_type '${model.config.model_type}')`);
  const format = opts.format ?? info.format;
  const dtype = opts.dtype ?? 'float32';
  let spec = info.spec;
  if (format === 'mixtral') {
    if (info.format === 'llama-moe') {
      const why = mixtralIncompatibility(model.config, spec);
      if (why) throw new FormatError(why);
    }
    spec = { ...spec, scoreScaleFactor: 1 };
  }
  const configJson = moeConfigJson(model.config, spec, format, dtype);
  const extraFiles: Record<string, unknown> = { ...opts.extraFiles };
  const partition = partitionFileOf(model);
  if (partition) extraFiles[PARTITION_FILE] = partition;
  saveLlama(model, dir, { dtype, maxShardBytes: opts.maxShardBytes, overwrite: opts.overwrite, configJson, extraFiles, tensors: moeTensors(model, format) });
}

/** Load a llama_moe or mixtral model folder. */
export function loadMoeModel(dir: string, opts: { seed?: number } = {}): LlamaForCausalLM {
  const cfg = readLlamaConfig(dir);
  const ckpt = openCheckpoint(dir);
  try {
    return loadMoeModelFrom(ckpt, cfg, opts);
  } finally {
    ckpt.close();
  }
}

/** Load any supported folder: dense llama/mistral, llama_moe or mixtral. */
export function loadAnyModel(dir: string, opts: { seed?: number } = {}): LlamaForCausalLM {
  const cfg = readLlamaConfig(dir);
  if (cfg.model_type === 'llama_moe' || cfg.model_type === 'mixtral') return loadMoeModel(dir, opts);
  const ckpt = openCheckpoint(dir);
  try {
    const m = loadLlamaFrom(ckpt, cfg);
    m.nameParameters();
    return m;
  } finally {
    ckpt.close();
  }
}

/** `llama-moe merge-experts`: an MoE folder → a dense llama folder (tokenizer files carried over). */
export function mergeExpertsToDense(o: { modelDir: string; outDir: string; overwrite?: boolean }): void {
  const moe = loadMoeModel(o.modelDir);
  const pfPath = path.join(o.modelDir, PARTITION_FILE);
  let partition: number[][][] | null = null;
  let folded: number | number[] | null = null;
  let sharedPartition: number[][][] | null = null;
  if (fs.existsSync(pfPath)) {
    let pf: { experts?: unknown; folded_score_scale?: unknown };
    try {
      pf = JSON.parse(fs.readFileSync(pfPath, 'utf8'));
    } catch {
      throw new FormatError(`${pfPath}: is not valid JSON`);
    }
    if (pf.experts === null) throw new FormatError(`${o.modelDir}: the experts are upcycled copies (method upcycle or drop-upcycle); there is no dense FFN to merge back to`);
    partition = (pf.experts as number[][][] | undefined) ?? null;
    folded = (pf.folded_score_scale as number | number[] | null | undefined) ?? null;
    sharedPartition = ((pf as { shared_experts?: unknown }).shared_experts as number[][][] | null | undefined) ?? null;
  }
  const dense = mergeExperts(moe, partition, folded, sharedPartition);
  const extraFiles: Record<string, unknown> = {};
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
    if (fs.existsSync(path.join(o.modelDir, f))) extraFiles[f] = fs.readFileSync(path.join(o.modelDir, f), 'utf8');
  }
  const td = moe.config.torch_dtype;
  const dtype: SaveDType = td === 'bfloat16' || td === 'float16' ? td : 'float32';
  saveLlama(dense, o.outDir, { dtype, overwrite: o.overwrite, extraFiles });
}

