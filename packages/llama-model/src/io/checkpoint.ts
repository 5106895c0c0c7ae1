/**
 * Open a Hugging Face checkpoint folder: `model.safetensors`, or `model.safetensors.index.json`
 * plus its shards. The index is validated before any tensor is read (JSON object, weight_map of
 * string -> string, shard names that stay inside the folder, every shard present, index and shard
 * headers naming exactly the same tensors). Pickled PyTorch weights are refused: unpickling can run
 * arbitrary code.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Tensor } from '@llama-moe/tensor-core';
import { CheckpointError } from './errors.js';
import { findDuplicateKey, isJsonObject } from './json-util.js';
import { SafetensorsFile } from './safetensors-reader.js';
import type { SafetensorsTensorInfo } from './safetensors-format.js';
import { SAFE_WEIGHTS_INDEX_NAME, SAFE_WEIGHTS_NAME } from './sharded-writer.js';

const PICKLE_EXT = /\.(bin|pt|pth|ckpt|pkl|pickle)$/i;

/** The reason pickled weights are refused (CheckpointError prefixes the file name). */
export const PICKLED_WEIGHTS_DETAIL =
  "pickled PyTorch weights are not loaded (they can execute code); convert to safetensors with `transformers`' save_pretrained(safe_serialization=True)";

export interface CheckpointTensorInfo extends SafetensorsTensorInfo {
  /** Shard file name relative to the checkpoint folder. */
  file: string;
}

export class Checkpoint {
  readonly dir: string;
  /** 'single' for model.safetensors, 'sharded' for an index. */
  readonly kind: 'single' | 'sharded';
  /** The index's `metadata` (sharded) or the single file's `__metadata__`. */
  readonly metadata: Readonly<Record<string, unknown>>;
  private readonly shards: Map<string, SafetensorsFile>;
  private readonly where: Map<string, string>;

  constructor(dir: string, kind: 'single' | 'sharded', shards: Map<string, SafetensorsFile>, where: Map<string, string>, metadata: Record<string, unknown>) {
    this.dir = dir;
    this.kind = kind;
    this.shards = shards;
    this.where = where;
    this.metadata = metadata;
  }

  /** Shard file names in index order. */
  get files(): string[] {
    return [...this.shards.keys()];
  }

  /** Tensor names (index order for a sharded checkpoint, header order for a single file). */
  keys(): string[] {
    return [...this.where.keys()];
  }

  has(name: string): boolean {
    return this.where.has(name);
  }

  private shardOf(name: string): [string, SafetensorsFile] {
    const file = this.where.get(name);
    if (file === undefined) throw new CheckpointError(this.dir, name, `no such tensor in the checkpoint (${this.where.size} tensors)`);
    return [file, this.shards.get(file)!];
  }

  info(name: string): CheckpointTensorInfo {
    const [file, shard] = this.shardOf(name);
    return { ...shard.info(name), file };
  }

  readRaw(name: string): Uint8Array {
    return this.shardOf(name)[1].readRaw(name);
  }

  readRawInto(name: string, dst: Uint8Array): Uint8Array {
    return this.shardOf(name)[1].readRawInto(name, dst);
  }

  /** Raw bytes in pieces through one reused buffer (see SafetensorsFile.rawChunks). */
  rawChunks(name: string, chunkBytes?: number): Generator<Uint8Array> {
    return this.shardOf(name)[1].rawChunks(name, chunkBytes);
  }

  readF32(name: string): Float32Array {
    return this.shardOf(name)[1].readF32(name);
  }

  readI32(name: string): Int32Array {
    return this.shardOf(name)[1].readI32(name);
  }

  readTensor(name: string): Tensor {
    return this.shardOf(name)[1].readTensor(name);
  }

  close(): void {
    for (const s of this.shards.values()) s.close();
  }
}

/** A shard name from the index must be a relative path that stays inside the folder. */
function checkShardName(indexFile: string, dir: string, tensor: string, file: unknown): string {
  if (typeof file !== 'string' || file.length === 0) {
    throw new CheckpointError(indexFile, tensor, `weight_map value must be a non-empty file name, got ${JSON.stringify(file)}`);
  }
  if (path.posix.isAbsolute(file) || path.win32.isAbsolute(file) || file.includes('\0')) {
    throw new CheckpointError(indexFile, tensor, `shard '${file}' is an absolute path; shard names must be relative to the model folder`);
  }
  const resolved = path.resolve(dir, file);
  const rel = path.relative(path.resolve(dir), resolved);
  if (file.split(/[\\/]/).includes('..') || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new CheckpointError(indexFile, tensor, `shard '${file}' escapes the model folder ('..' is not allowed)`);
  }
  if (PICKLE_EXT.test(file)) throw new CheckpointError(indexFile, tensor, `shard '${file}': ${PICKLED_WEIGHTS_DETAIL}`);
  return file;
}

function openSharded(dir: string, indexFile: string): Checkpoint {
  let text: string;
  try {
    text = fs.readFileSync(indexFile, 'utf8');
  } catch (e) {
    throw new CheckpointError(indexFile, null, `cannot read: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(indexFile, null, `not valid JSON (${(e as Error).message})`);
  }
  if (!isJsonObject(json)) throw new CheckpointError(indexFile, null, 'index must be a JSON object with a "weight_map"');
  const dup = findDuplicateKey(text);
  if (dup) throw new CheckpointError(indexFile, dup.path.length ? dup.key : null, `key '${dup.key}' appears twice${dup.path.length ? ` in '${dup.path.join('.')}'` : ''}`);
  const wm = json.weight_map;
  if (!isJsonObject(wm)) throw new CheckpointError(indexFile, null, `"weight_map" must be an object mapping tensor names to shard files, got ${JSON.stringify(wm)?.slice(0, 40)}`);
  const meta = json.metadata ?? {};
  if (!isJsonObject(meta)) throw new CheckpointError(indexFile, null, '"metadata" must be an object');
  if (meta.total_size !== undefined && !(typeof meta.total_size === 'number' && Number.isSafeInteger(meta.total_size) && meta.total_size >= 0)) {
    throw new CheckpointError(indexFile, null, `"metadata"."total_size" must be a non-negative integer, got ${JSON.stringify(meta.total_size)}`);
  }

  const where = new Map<string, string>();
  const byShard = new Map<string, string[]>();
  for (const [tensor, file] of Object.entries(wm)) {
    const f = checkShardName(indexFile, dir, tensor, file);
    where.set(tensor, f);
    if (!byShard.has(f)) byShard.set(f, []);
    byShard.get(f)!.push(tensor);
  }

  const shards = new Map<string, SafetensorsFile>();
  try {
    for (const [file, names] of byShard) {
      const full = path.join(dir, file);
      if (!fs.existsSync(full)) throw new CheckpointError(indexFile, names[0]!, `shard '${file}' (named for ${names.length} tensors) does not exist in ${dir}`);
      const shard = SafetensorsFile.open(full);
      shards.set(file, shard);
      for (const n of names) {
        if (!shard.has(n)) throw new CheckpointError(indexFile, n, `the index puts it in '${file}' but that shard does not hold it`);
      }
      for (const n of shard.keys()) {
        if (where.get(n) !== file) {
          const other = where.get(n);
          throw new CheckpointError(full, n, other === undefined ? 'is in the shard but not in the index weight_map' : `is in this shard but the index puts it in '${other}'`);
        }
      }
    }
  } catch (e) {
    for (const s of shards.values()) s.close();
    throw e;
  }
  return new Checkpoint(dir, 'sharded', shards, where, meta);
}

function openSingle(dir: string, file: string): Checkpoint {
  const shard = SafetensorsFile.open(path.join(dir, file));
  const where = new Map(shard.keys().map((k) => [k, file]));
  return new Checkpoint(dir, 'single', new Map([[file, shard]]), where, { ...shard.metadata });
}

/**
 * Open a checkpoint folder (or a single `.safetensors` file). Looks for `model.safetensors` or
 * `model.safetensors.index.json`; refuses both at once (stale files from two saves), pickled
 * `pytorch_model.bin` / `*.pt` / `*.bin` weights, and a folder with neither.
 */
export function openCheckpoint(dirOrFile: string): Checkpoint {
  let st: fs.Stats;
  try {
    st = fs.statSync(dirOrFile);
  } catch (e) {
    throw new CheckpointError(dirOrFile, null, `cannot open checkpoint: ${(e as Error).message}`);
  }
  if (st.isFile()) {
    if (PICKLE_EXT.test(dirOrFile)) throw new CheckpointError(dirOrFile, null, PICKLED_WEIGHTS_DETAIL);
    if (path.basename(dirOrFile).endsWith('.index.json')) return openSharded(path.dirname(dirOrFile), dirOrFile);
    return openSingle(path.dirname(dirOrFile), path.basename(dirOrFile));
  }
  const dir = dirOrFile;
  const single = fs.existsSync(path.join(dir, SAFE_WEIGHTS_NAME));
  const indexed = fs.existsSync(path.join(dir, SAFE_WEIGHTS_INDEX_NAME));
  if (single && indexed) {
    throw new CheckpointError(dir, null, `holds both ${SAFE_WEIGHTS_NAME} and ${SAFE_WEIGHTS_INDEX_NAME}; remove the stale one (or open one of them directly)`);
  }
  if (indexed) return openSharded(dir, path.join(dir, SAFE_WEIGHTS_INDEX_NAME));
  if (single) return openSingle(dir, SAFE_WEIGHTS_NAME);
  const pickled = fs.readdirSync(dir).filter((f) => PICKLE_EXT.test(f) || f === 'pytorch_model.bin.index.json');
  if (pickled.length > 0) {
    throw new CheckpointError(path.join(dir, pickled.sort()[0]!), null, PICKLED_WEIGHTS_DETAIL);
  }
  throw new CheckpointError(dir, null, `no ${SAFE_WEIGHTS_NAME} or ${SAFE_WEIGHTS_INDEX_NAME} here; expected a Hugging Face safetensors checkpoint folder`);
}
