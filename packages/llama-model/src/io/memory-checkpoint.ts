/**
 * A checkpoint held in memory (browser-safe): safetensors files given as bytes, e.g. fetched or
 * picked by the user in the playground. Same validation as the file reader (header parsed and
 * checked before any tensor is touched), same read API as `Checkpoint`.
 */
import { Tensor } from '@llama-moe/tensor-core';
import { CheckpointError, SafetensorsError } from './errors.js';
import { parseHeader, parseHeaderLength, type SafetensorsDType, type SafetensorsTensorInfo } from './safetensors-format.js';
import { rawToF32 } from './raw-convert.js';

/** What loaders need from a checkpoint (implemented by Checkpoint and MemoryCheckpoint). */
export interface ReadableCheckpoint {
  readonly dir: string;
  keys(): string[];
  has(name: string): boolean;
  info(name: string): { dtype: string; shape: readonly number[] };
  readF32(name: string): Float32Array;
  readRaw(name: string): Uint8Array;
  close(): void;
}

interface Entry { file: string; bytes: Uint8Array; dataStart: number; info: SafetensorsTensorInfo }

export class MemoryCheckpoint implements ReadableCheckpoint {
  private readonly entries = new Map<string, Entry>();
  constructor(readonly dir: string, files: Map<string, Uint8Array> | Record<string, Uint8Array>) {
    const map = files instanceof Map ? files : new Map(Object.entries(files));
    let indexMap: Record<string, string> | null = null;
    const idx = map.get('model.safetensors.index.json');
    if (idx) {
      let j: unknown;
      try { j = JSON.parse(new TextDecoder().decode(idx)); } catch { throw new CheckpointError('model.safetensors.index.json', null, 'is not valid JSON'); }
      const wm = (j as { weight_map?: unknown }).weight_map;
      if (typeof wm !== 'object' || wm === null) throw new CheckpointError('model.safetensors.index.json', null, 'has no weight_map object');
      indexMap = wm as Record<string, string>;
    }
    for (const [file, bytes] of map) {
      if (!file.endsWith('.safetensors')) continue;
      const len = parseHeaderLength(bytes.subarray(0, 8), bytes.byteLength, file);
      const header = parseHeader(bytes.subarray(8, 8 + len), bytes.byteLength - 8 - len, file);
      for (const [name, info] of header.tensors) {
        if (this.entries.has(name)) throw new SafetensorsError(file, name, `appears in two files (${this.entries.get(name)!.file} and ${file})`);
        this.entries.set(name, { file, bytes, dataStart: 8 + len, info });
      }
    }
    if (indexMap) {
      for (const [name, file] of Object.entries(indexMap)) {
        const e = this.entries.get(name);
        if (!e) throw new CheckpointError(file, name, 'is named in the index but missing from the files given');
        if (e.file !== file) throw new CheckpointError(file, name, `is in ${e.file}, but the index says ${file}`);
      }
    }
    if (this.entries.size === 0) throw new CheckpointError(dir, null, 'no .safetensors file among the files given');
  }
  keys(): string[] { return [...this.entries.keys()]; }
  has(name: string): boolean { return this.entries.has(name); }
  private get(name: string): Entry {
    const e = this.entries.get(name);
    if (!e) throw new CheckpointError(this.dir, name, 'is not in the checkpoint');
    return e;
  }
  info(name: string): { dtype: SafetensorsDType; shape: readonly number[] } {
    const e = this.get(name);
    return { dtype: e.info.dtype, shape: e.info.shape };
  }
  readRaw(name: string): Uint8Array {
    const e = this.get(name);
    const [b, end] = e.info.dataOffsets;
    return e.bytes.slice(e.dataStart + b, e.dataStart + end);
  }
  readF32(name: string): Float32Array {
    return rawToF32(this.readRaw(name), this.get(name).info.dtype);
  }
  readTensor(name: string): Tensor {
    return new Tensor(this.readF32(name), this.info(name).shape);
  }
  close(): void {}
}
