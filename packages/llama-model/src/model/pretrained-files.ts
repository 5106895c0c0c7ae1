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
import type { SafetensorsTensorInput } from '../io/safetensors-writer.js';
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
  const tensors = opts.tensors ?? model.namedParameters();
  writeCheckpointFolder(dir, {
    tensors: (function* () {
      for (const [n, t] of tensors) yield toSafetensorsInput(n, t, dtype);
    })(),
    configJson: opts.configJson ?? { ...llamaConfigToJson({ ...model.config, torch_dtype: dtype }) },
    generationConfigJson: generationConfigJson(model.config),
    extraFiles: opts.extraFiles, maxShardBytes: opts.maxShardBytes, overwrite: opts.overwrite,
  });
}

/** What a checkpoint folder holds, for writeCheckpointFolder. */
export interface CheckpointFolderContents {
  /** Every tensor, in order, as the sharded writer takes them (names, dtypes and shapes known up front). */
  tensors: Iterable<SafetensorsTensorInput>;
  /** config.json (written the way Python's json writes it, as save_pretrained does). */
  configJson: Record<string, unknown>;
  generationConfigJson: Record<string, unknown>;
  /** Further files: name → JSON object or string; a function is called once the tensors are written. */
  extraFiles?: Record<string, unknown> | (() => Record<string, unknown>);
  /** Files copied from another folder after the rest (tokenizer files), when they exist there. */
  copyFrom?: { dir: string; files: readonly string[] };
  maxShardBytes?: number;
  overwrite?: boolean;
}

/**
 * The one checkpoint writer: safetensors shards, config.json, generation_config.json and extra
 * files into a staging folder renamed into place (saveModelFolder). saveLlama, the MoE formats and
 * the streaming split all write through it.
 */
export function writeCheckpointFolder(dir: string, c: CheckpointFolderContents): void {
  saveModelFolder(dir, (staging) => {
    writeShardedSafetensors(staging, c.tensors, { maxShardBytes: c.maxShardBytes, metadata: { format: 'pt' } });
    // pyJsonDumps writes floats the way Python's json does (10000.0, 1e-05), like save_pretrained.
    atomicWriteFile(path.join(staging, 'config.json'), pyJsonDumps(c.configJson) + '\n');
    atomicWriteFile(path.join(staging, 'generation_config.json'), pyJsonDumps(c.generationConfigJson) + '\n');
    for (const [name, content] of Object.entries((typeof c.extraFiles === 'function' ? c.extraFiles() : c.extraFiles) ?? {})) {
      atomicWriteFile(path.join(staging, name), typeof content === 'string' ? content : JSON.stringify(content, null, 2) + '\n');
    }
    for (const f of c.copyFrom?.files ?? []) {
      const from = path.join(c.copyFrom!.dir, f);
      if (fs.existsSync(from)) fs.copyFileSync(from, path.join(staging, f));
    }
  }, { overwrite: c.overwrite });
}
