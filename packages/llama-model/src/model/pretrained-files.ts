/** Hugging Face model folders on disk (Node): load, save, and the staged atomic folder write. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { atomicWriteFile, fsyncDir } from '../io/atomic.js';
import { pyJsonDumps } from '../io/json-util.js';
import { openCheckpoint } from '../io/checkpoint.js';
import { llamaConfigToJson } from '../io/config.js';
import { readLlamaConfig } from '../io/config-files.js';
import { CheckpointError } from '../io/errors.js';
import { writeShardedSafetensors } from '../io/sharded-writer.js';
import type { LlamaForCausalLM } from './llama.js';
import { generationConfigJson, loadLlamaFrom, toSafetensorsInput, type LoadOptions, type SaveOptions } from './pretrained.js';

/** Load a Hugging Face model folder (config.json + safetensors). */
export function loadLlama(dir: string, opts: LoadOptions = {}): LlamaForCausalLM {
  const cfg = readLlamaConfig(dir);
  const ckpt = openCheckpoint(dir);
  try {
    return loadLlamaFrom(ckpt, cfg, opts);
  } finally {
    ckpt.close();
  }
}

/**
 * Write a complete Hugging Face model folder. Everything is written into a staging folder beside
 * the target and renamed into place at the end; an existing target is replaced only with
 * `overwrite`.
 */
export function saveModelFolder(dir: string, write: (staging: string) => void, opts: { overwrite?: boolean } = {}): void {
  const target = path.resolve(dir);
  if (fs.existsSync(target)) {
    const entries = fs.readdirSync(target);
    if (entries.length > 0 && !opts.overwrite) {
      throw new CheckpointError(target, null, 'output folder is not empty; choose a new folder or pass overwrite');
    }
  } else {
    fs.mkdirSync(path.dirname(target), { recursive: true });
  }
  const staging = path.join(path.dirname(target), `.${path.basename(target)}.partial-${process.pid}-${Date.now()}`);
  fs.mkdirSync(staging);
  try {
    write(staging);
    fsyncDir(staging);
    if (fs.existsSync(target)) fs.rmSync(target, { recursive: true, force: true });
    fs.renameSync(staging, target);
    fsyncDir(path.dirname(target));
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}

export function saveLlama(model: LlamaForCausalLM, dir: string, opts: SaveOptions = {}): void {
  const dtype = opts.dtype ?? 'float32';
  const cfgJson = opts.configJson ?? { ...llamaConfigToJson({ ...model.config, torch_dtype: dtype }) };
  const tensors = opts.tensors ?? model.namedParameters();
  saveModelFolder(dir, (staging) => {
    const inputs = (function* () {
      for (const [n, t] of tensors) yield toSafetensorsInput(n, t, dtype);
    })();
    writeShardedSafetensors(staging, inputs, { maxShardBytes: opts.maxShardBytes, metadata: { format: 'pt' } });
    // pyJsonDumps writes floats the way Python's json does (10000.0, 1e-05), like save_pretrained.
    atomicWriteFile(path.join(staging, 'config.json'), pyJsonDumps(cfgJson) + '\n');
    atomicWriteFile(path.join(staging, 'generation_config.json'), pyJsonDumps(generationConfigJson(model.config)) + '\n');
    for (const [name, content] of Object.entries(opts.extraFiles ?? {})) {
      atomicWriteFile(path.join(staging, name), typeof content === 'string' ? content : JSON.stringify(content, null, 2) + '\n');
    }
  }, { overwrite: opts.overwrite });
}
