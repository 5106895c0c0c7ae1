/**
 * Sharded checkpoints exactly like transformers' `save_pretrained(safe_serialization=True)`:
 * tensors are split in order with huggingface_hub's rule (a tensor that would tip the current shard
 * over `maxShardBytes` starts a new shard; a tensor larger than `maxShardBytes` gets a shard of its
 * own, numbered where it was met), shards are named `model-00001-of-0000N.safetensors`, and
 * `model.safetensors.index.json` is `json.dumps({"metadata": {"total_size": ...}, "weight_map":
 * {...}}, indent=2, sort_keys=True) + "\n"`. One shard means a plain `model.safetensors`, no index.
 *
 * Every shard is written under a temporary name first (N is unknown while streaming); only when all
 * are complete are they renamed, then the index is written atomically, then stale shards of an
 * earlier save in the same folder are removed (as transformers does). On error all temp files go.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SafetensorsError } from './errors.js';
import { atomicWriteFile, fsyncDir, removeQuietly, writeAllSync, writeTempFile } from './atomic.js';
import { pyJsonDumps } from './json-util.js';
import { encodeHeader, appendFileTo, checkTensorInput, writeSafetensorsTo, writeTensorData, type SafetensorsTensorInput } from './safetensors-writer.js';
import type { SafetensorsDType } from './safetensors-format.js';

/** transformers' default `max_shard_size="5GB"` (decimal, as huggingface_hub parses it). */
export const DEFAULT_MAX_SHARD_BYTES = 5_000_000_000;
export const SAFE_WEIGHTS_NAME = 'model.safetensors';
export const SAFE_WEIGHTS_INDEX_NAME = 'model.safetensors.index.json';

export interface ShardedWriteOptions {
  /** Largest shard in bytes (tensor data only, like huggingface_hub). Default 5e9. */
  maxShardBytes?: number;
  /** `__metadata__` of every shard. Default `{format: 'pt'}`, what transformers writes. */
  metadata?: Record<string, string>;
}

export interface ShardedWriteResult {
  /** File names (relative to the folder) in shard order. */
  files: string[];
  /** Sum of tensor data bytes, the index's `metadata.total_size`. */
  totalSize: number;
  /** `model.safetensors.index.json` path, or null for a single file. */
  indexFile: string | null;
  /** Tensor name -> file name. */
  weightMap: Record<string, string>;
}

/** The index object transformers writes. */
export interface SafetensorsIndex {
  metadata: { total_size: number } & Record<string, unknown>;
  weight_map: Record<string, string>;
}

/**
 * huggingface_hub's `split_state_dict_into_shards_factory`, on names and byte sizes: returns the
 * shards (lists of names) in file-number order.
 */
export function planShards(entries: readonly { name: string; byteLength: number }[], maxShardBytes: number): string[][] {
  const shards: string[][] = [];
  let current: string[] = [];
  let currentSize = 0;
  for (const { name, byteLength } of entries) {
    if (byteLength > maxShardBytes) {
      shards.push([name]);
      continue;
    }
    if (currentSize + byteLength > maxShardBytes) {
      shards.push(current);
      current = [];
      currentSize = 0;
    }
    current.push(name);
    currentSize += byteLength;
  }
  if (current.length > 0) shards.push(current);
  return shards;
}

/** `model-00001-of-00003.safetensors` (5-digit zero padding, 1-based, like transformers). */
export function shardFileName(index: number, count: number): string {
  return `model-${String(index + 1).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.safetensors`;
}

const STALE_SHARD = /^model-\d{5}-of-\d{5}\.safetensors$/;

function checkOptions(dir: string, opts: ShardedWriteOptions): { maxShardBytes: number; metadata: Record<string, string> } {
  const maxShardBytes = opts.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES;
  if (!Number.isSafeInteger(maxShardBytes) || maxShardBytes <= 0) {
    throw new SafetensorsError(dir, null, `maxShardBytes must be a positive integer, got ${maxShardBytes}`);
  }
  return { maxShardBytes, metadata: opts.metadata ?? { format: 'pt' } };
}

interface FinishedShard {
  tmp: string;
  names: string[];
}

/**
 * Rename the finished temp shards to their final names, write the index (more than one shard) and
 * remove files of an earlier save that the new checkpoint does not use.
 */
function publishShards(dir: string, shards: readonly FinishedShard[], totalSize: number): ShardedWriteResult {
  const count = shards.length;
  const files = count <= 1 ? [SAFE_WEIGHTS_NAME] : shards.map((_, i) => shardFileName(i, count));
  const weightMap: Record<string, string> = {};
  shards.forEach((s, i) => {
    for (const n of s.names) weightMap[n] = files[i]!;
  });
  shards.forEach((s, i) => fs.renameSync(s.tmp, path.join(dir, files[i]!)));
  fsyncDir(dir);
  let indexFile: string | null = null;
  if (count > 1) {
    indexFile = path.join(dir, SAFE_WEIGHTS_INDEX_NAME);
    const index: SafetensorsIndex = { metadata: { total_size: totalSize }, weight_map: weightMap };
    atomicWriteFile(indexFile, pyJsonDumps(index) + '\n');
  }
  // A stale single file next to a new index (or the reverse) would make the folder ambiguous.
  const keep = new Set(files);
  for (const f of fs.readdirSync(dir)) {
    const stale = (STALE_SHARD.test(f) && !keep.has(f)) || (count > 1 && f === SAFE_WEIGHTS_NAME) || (count <= 1 && f === SAFE_WEIGHTS_INDEX_NAME);
    if (stale) removeQuietly(path.join(dir, f));
  }
  return { files, totalSize, indexFile, weightMap };
}

/** Distinguishes two writers of this process working in the same folder. */
let writerSeq = 0;

function shardTempName(dir: string, writer: number, k: number): string {
  return path.join(dir, `.model.shard-${writer}-${k}.safetensors.tmp-${process.pid}`);
}

/**
 * Streaming sharded writer: `add` tensors one at a time (only the current tensor is in memory),
 * then `finish`. Each open shard's data goes to a side temp file; when the shard closes, its header
 * (now known) and data are assembled into the shard's temp file.
 */
export class ShardedCheckpointWriter {
  readonly dir: string;
  readonly maxShardBytes: number;
  readonly metadata: Record<string, string>;
  private finished: FinishedShard[] = [];
  private current: { dataTmp: string; fd: number; entries: { name: string; dtype: SafetensorsDType; shape: readonly number[]; byteLength: number }[]; size: number } | null = null;
  private names = new Set<string>();
  private totalSize = 0;
  private nextTemp = 0;
  private state: 'open' | 'done' | 'failed' = 'open';
  private readonly id = writerSeq++;

  constructor(dir: string, opts: ShardedWriteOptions = {}) {
    const o = checkOptions(dir, opts);
    this.dir = dir;
    this.maxShardBytes = o.maxShardBytes;
    this.metadata = o.metadata;
    fs.mkdirSync(dir, { recursive: true });
  }

  /** Append one tensor (its data is converted and written now). */
  add(t: SafetensorsTensorInput): void {
    this.guard(() => {
      const byteLength = checkTensorInput(t, this.dir);
      if (this.names.has(t.name)) throw new SafetensorsError(this.dir, t.name, 'tensor name given twice');
      this.names.add(t.name);
      this.totalSize += byteLength;
      if (byteLength > this.maxShardBytes) {
        // Its own shard, numbered now: the open shard stays open (huggingface_hub does the same).
        const tmp = shardTempName(this.dir, this.id, this.nextTemp++);
        this.finished.push({ tmp, names: [t.name] });
        writeTempFile(tmp, (fd) => writeSafetensorsTo(fd, [t], this.metadata, this.dir));
        return;
      }
      if (this.current && this.current.size + byteLength > this.maxShardBytes) this.closeCurrent();
      if (!this.current) {
        const dataTmp = `${shardTempName(this.dir, this.id, this.nextTemp)}.data`;
        this.current = { dataTmp, fd: fs.openSync(dataTmp, 'w'), entries: [], size: 0 };
      }
      writeTensorData(this.current.fd, t, this.dir);
      this.current.entries.push({ name: t.name, dtype: t.dtype, shape: [...t.shape], byteLength });
      this.current.size += byteLength;
    });
  }

  /** Close the last shard, rename everything into place, write the index. */
  finish(): ShardedWriteResult {
    return this.guard(() => {
      if (this.current) this.closeCurrent();
      if (this.finished.length === 0) {
        // No tensors: still a valid (empty) checkpoint file.
        const tmp = shardTempName(this.dir, this.id, this.nextTemp++);
        this.finished.push({ tmp, names: [] });
        writeTempFile(tmp, (fd) => writeAllSync(fd, encodeHeader([], this.metadata, this.dir)));
      }
      const result = publishShards(this.dir, this.finished, this.totalSize);
      this.finished = [];
      this.state = 'done';
      return result;
    });
  }

  /** Remove every temp file; the folder is left as it was before this writer started. */
  abort(): void {
    if (this.current) {
      try {
        fs.closeSync(this.current.fd);
      } catch {
        /* already closed */
      }
      removeQuietly(this.current.dataTmp);
      this.current = null;
    }
    for (const s of this.finished) removeQuietly(s.tmp);
    this.finished = [];
    if (this.state === 'open') this.state = 'failed';
  }

  private closeCurrent(): void {
    const cur = this.current!;
    this.current = null;
    fs.closeSync(cur.fd);
    const tmp = shardTempName(this.dir, this.id, this.nextTemp++);
    this.finished.push({ tmp, names: cur.entries.map((e) => e.name) });
    try {
      writeTempFile(tmp, (fd) => {
        writeAllSync(fd, encodeHeader(cur.entries, this.metadata, this.dir));
        appendFileTo(fd, cur.dataTmp);
      });
    } finally {
      removeQuietly(cur.dataTmp);
    }
  }

  private guard<T>(fn: () => T): T {
    if (this.state !== 'open') throw new SafetensorsError(this.dir, null, `ShardedCheckpointWriter is ${this.state === 'done' ? 'finished' : 'aborted after an error'}; start a new one`);
    try {
      return fn();
    } catch (e) {
      this.abort();
      throw e;
    }
  }
}

/**
 * Write a checkpoint folder. An array is planned up front from shapes and dtypes and each shard is
 * written in one pass (lazy `data` functions are called one tensor at a time); any other iterable
 * streams through ShardedCheckpointWriter.
 */
export function writeShardedSafetensors(
  dir: string,
  tensors: readonly SafetensorsTensorInput[] | Iterable<SafetensorsTensorInput>,
  opts: ShardedWriteOptions = {},
): ShardedWriteResult {
  if (!Array.isArray(tensors)) {
    const w = new ShardedCheckpointWriter(dir, opts);
    for (const t of tensors) w.add(t);
    return w.finish();
  }
  const list = tensors as readonly SafetensorsTensorInput[];
  const { maxShardBytes, metadata } = checkOptions(dir, opts);
  const sizes = list.map((t) => ({ name: t.name, byteLength: checkTensorInput(t, dir) }));
  const seen = new Set<string>();
  for (const t of list) {
    if (seen.has(t.name)) throw new SafetensorsError(dir, t.name, 'tensor name given twice');
    seen.add(t.name);
  }
  fs.mkdirSync(dir, { recursive: true });
  const byName = new Map(list.map((t) => [t.name, t]));
  const plan = planShards(sizes, maxShardBytes);
  if (plan.length === 0) plan.push([]);
  const finished: FinishedShard[] = [];
  const id = writerSeq++;
  try {
    plan.forEach((names, k) => {
      const tmp = shardTempName(dir, id, k);
      finished.push({ tmp, names });
      writeTempFile(tmp, (fd) => writeSafetensorsTo(fd, names.map((n) => byName.get(n)!), metadata, dir));
    });
    return publishShards(dir, finished, sizes.reduce((s, e) => s + e.byteLength, 0));
  } catch (e) {
    for (const s of finished) removeQuietly(s.tmp);
    throw e;
  }
}
