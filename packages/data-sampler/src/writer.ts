import { mkdir, rename, rm, writeFile, stat } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Field, Int32, Int8, List, RecordBatch, RecordBatchStreamWriter, Schema, Struct, Utf8, makeData } from 'apache-arrow';
import { DomainStream } from './domain-stream.js';
import { DataError } from './errors.js';
import { checkPackOptions, type PackOptions, type PackedBlock } from './pack.js';
import { checkSource, readJsonFile, type DomainSource } from './source.js';
import { tokenizerHash, type Tokenizer } from './tokenizer.js';

export const MANIFEST_NAME = 'llama_moe_dataset.json';

/** `llama_moe_dataset.json`: what a packed dataset holds, in the spirit of HF's dataset_info.json. */
export interface PackedDatasetManifest {
  format: 'llama-moe-packed';
  version: 1;
  seq_len: number;
  tokenizer_hash: string;
  bos_token_id: number;
  eos_token_id: number;
  add_bos: boolean;
  add_eos: boolean;
  remainder: 'drop' | 'pad' | 'keep';
  pad_token_id: number;
  shuffle_buffer: number;
  seed: number | string;
  /** Hugging Face `datasets` features of every file. */
  features: Record<string, unknown>;
  domains: Record<string, { documents: number; tokens: number; blocks: number; padded_tokens: number; files: string[] }>;
  /** All data files, relative to the dataset folder. */
  files: string[];
}

/** HF `datasets` features for the columns we write (stored in the Arrow schema metadata too). */
function hfFeatures(withMask: boolean): Record<string, unknown> {
  const f: Record<string, unknown> = {
    input_ids: { feature: { dtype: 'int32', _type: 'Value' }, _type: 'Sequence' },
    domain: { dtype: 'string', _type: 'Value' },
  };
  if (withMask) f.attention_mask = { feature: { dtype: 'int8', _type: 'Value' }, _type: 'Sequence' };
  return f;
}

function packedSchema(withMask: boolean): Schema {
  const fields: Field[] = [new Field('input_ids', new List(new Field('item', new Int32(), true)), true), new Field('domain', new Utf8(), true)];
  if (withMask) fields.push(new Field('attention_mask', new List(new Field('item', new Int8(), true)), true));
  const meta = new Map([['huggingface', JSON.stringify({ info: { features: hfFeatures(withMask) } })]]);
  return new Schema(fields, meta);
}

/** Builds one record batch of packed rows straight from typed arrays (no per-value boxing). */
export function packedRecordBatch(blocks: PackedBlock[], domain: string, withMask: boolean): RecordBatch {
  const n = blocks.length;
  let total = 0;
  for (const b of blocks) total += b.inputIds.length;
  /** [n + 1] */
  const offsets = new Int32Array(n + 1);
  /** [total] */
  const values = new Int32Array(total);
  /** [total] */
  const mask = withMask ? new Int8Array(total) : undefined;
  let k = 0;
  for (let i = 0; i < n; i++) {
    const ids = blocks[i]!.inputIds;
    values.set(ids, k);
    if (mask) {
      if (blocks[i]!.lossMask) mask.set(blocks[i]!.lossMask as unknown as ArrayLike<number>, k);
      else mask.fill(1, k, k + ids.length);
    }
    k += ids.length;
    offsets[i + 1] = k;
  }
  const schema = packedSchema(withMask);
  const idsData = makeData({ type: schema.fields[0]!.type as List<Int32>, length: n, nullCount: 0, valueOffsets: offsets, child: makeData({ type: new Int32(), length: total, nullCount: 0, data: values }) });
  const dBytes = new TextEncoder().encode(domain);
  /** [n * |domain|] the same utf8 string repeated */
  const dData = new Uint8Array(dBytes.length * n);
  /** [n + 1] */
  const dOffsets = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    dData.set(dBytes, i * dBytes.length);
    dOffsets[i + 1] = (i + 1) * dBytes.length;
  }
  const domainData = makeData({ type: new Utf8(), length: n, nullCount: 0, valueOffsets: dOffsets, data: dData });
  const children = [idsData, domainData] as ReturnType<typeof makeData>[];
  if (mask) {
    children.push(makeData({ type: schema.fields[2]!.type as List<Int8>, length: n, nullCount: 0, valueOffsets: offsets, child: makeData({ type: new Int8(), length: total, nullCount: 0, data: mask }) }));
  }
  const data = makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children });
  return new RecordBatch(schema, data);
}

/** Writes bytes to `path` atomically: temp file in the same folder, then rename. */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Arrow IPC *stream* bytes (what HF `datasets` caches and `Dataset.from_file` reads). */
export function arrowStreamBytes(batches: RecordBatch[]): Uint8Array {
  if (batches.length === 0) throw new DataError('write', 'arrowStreamBytes: no record batches to write');
  return RecordBatchStreamWriter.writeAll(batches).toUint8Array(true);
}

export interface WritePackedOptions extends PackOptions {
  outDir: string;
  sources: DomainSource[];
  tokenizer: Tokenizer;
  shuffleBuffer?: number;
  shuffleFiles?: boolean;
  seed?: number | string;
  /** Rows per shard file (bounds writer memory). Default: about 16M tokens per shard. */
  shardBlocks?: number;
  /** Rows per Arrow record batch. Default 1000 (HF datasets' writer batch size). */
  batchRows?: number;
  /** Write an `attention_mask` column. Default: remainder === 'pad'. */
  attentionMask?: boolean;
  /** Replace an existing outDir. Default false. */
  overwrite?: boolean;
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Tokenises, shuffles (buffer) and packs every domain once, writing `outDir/<domain>/data-NNNNN.arrow`
 * (Arrow IPC streams: input_ids list<int32>, domain utf8, optional attention_mask list<int8>) plus
 * `llama_moe_dataset.json`. Everything is built in a temp folder beside outDir and renamed into
 * place at the end, so a thrown error leaves nothing half-written.
 */
export async function writePackedDataset(o: WritePackedOptions): Promise<PackedDatasetManifest> {
  const pack = checkPackOptions(o);
  if (!o.tokenizer) throw new DataError('argument', 'tokenizer: required to write a packed dataset');
  if (!Array.isArray(o.sources) || o.sources.length === 0) throw new DataError('argument', 'sources: no domains to write');
  for (const s of o.sources) {
    checkSource(s);
    if (!/^[A-Za-z0-9_.-]+$/.test(s.name) || s.name.startsWith('.')) throw new DataError('argument', `sources: domain name "${s.name}" is not a safe folder name; use letters, digits, _ . -`);
  }
  const withMask = o.attentionMask ?? pack.remainder === 'pad';
  const shardBlocks = o.shardBlocks ?? Math.max(1, Math.floor((16 << 20) / pack.seqLen));
  const batchRows = o.batchRows ?? 1000;
  if (!Number.isInteger(shardBlocks) || shardBlocks < 1) throw new DataError('argument', `shardBlocks: must be a positive integer, got ${o.shardBlocks}`);
  if (!Number.isInteger(batchRows) || batchRows < 1) throw new DataError('argument', `batchRows: must be a positive integer, got ${o.batchRows}`);
  const outDir = o.outDir.replace(/[\\/]+$/, '');
  if ((await exists(outDir)) && !o.overwrite) throw new DataError('write', `${outDir}: already exists; pass overwrite: true or choose another outDir`);
  await mkdir(dirname(outDir), { recursive: true });
  const tmpDir = join(dirname(outDir), `.${basename(outDir)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const seed = o.seed ?? 0;
  const manifest: PackedDatasetManifest = {
    format: 'llama-moe-packed',
    version: 1,
    seq_len: pack.seqLen,
    tokenizer_hash: tokenizerHash(o.tokenizer),
    bos_token_id: o.tokenizer.bosTokenId,
    eos_token_id: o.tokenizer.eosTokenId,
    add_bos: pack.addBos,
    add_eos: pack.addEos,
    remainder: pack.remainder,
    pad_token_id: pack.padId,
    shuffle_buffer: o.shuffleBuffer ?? 200,
    seed,
    features: hfFeatures(withMask),
    domains: {},
    files: [],
  };
  try {
    await mkdir(tmpDir, { recursive: true });
    for (const src of o.sources) {
      await mkdir(join(tmpDir, src.name));
      const stream = new DomainStream(src, { ...pack, tokenizer: o.tokenizer, shuffleBuffer: o.shuffleBuffer, shuffleFiles: o.shuffleFiles ?? false, seed });
      const info = { documents: 0, tokens: 0, blocks: 0, padded_tokens: 0, files: [] as string[] };
      let shard: PackedBlock[] = [];
      const flushShard = async (): Promise<void> => {
        if (shard.length === 0) return;
        const rel = `${src.name}/data-${String(info.files.length).padStart(5, '0')}.arrow`;
        const batches: RecordBatch[] = [];
        for (let i = 0; i < shard.length; i += batchRows) batches.push(packedRecordBatch(shard.slice(i, i + batchRows), src.name, withMask));
        await writeFile(join(tmpDir, rel), arrowStreamBytes(batches));
        info.files.push(rel);
        manifest.files.push(rel);
        shard = [];
      };
      try {
        for (;;) {
          const b = await stream.nextBlock(true);
          if (!b) break;
          info.blocks++;
          if (b.lossMask) for (let i = 0; i < b.lossMask.length; i++) info.padded_tokens += b.lossMask[i] ? 0 : 1;
          shard.push(b);
          if (shard.length >= shardBlocks) await flushShard();
        }
        await flushShard();
      } finally {
        await stream.close();
      }
      const st = stream.stats();
      info.documents = st.documents;
      info.tokens = st.tokens;
      manifest.domains[src.name] = info;
    }
    await writeFile(join(tmpDir, MANIFEST_NAME), JSON.stringify(manifest, null, 2) + '\n');
    // Swap into place: the old folder (when overwriting) is moved aside first and removed last.
    let old: string | null = null;
    if (await exists(outDir)) {
      old = `${tmpDir}.old`;
      await rename(outDir, old);
    }
    try {
      await rename(tmpDir, outDir);
    } catch (e) {
      if (old) await rename(old, outDir);
      throw e;
    }
    if (old) await rm(old, { recursive: true, force: true });
    return manifest;
  } catch (e) {
    await rm(tmpDir, { recursive: true, force: true });
    if (e instanceof DataError) throw e;
    throw new DataError('write', `${outDir}: writing the packed dataset failed, nothing was written (${(e as Error).message})`);
  }
}

/** Reads `llama_moe_dataset.json` and returns one pre-tokenised source per domain. */
export async function sourcesFromPackedDataset(dir: string, opts: { tokenizer?: Tokenizer } = {}): Promise<{ manifest: PackedDatasetManifest; sources: DomainSource[] }> {
  const manifest = await readJsonFile<PackedDatasetManifest>(join(dir, MANIFEST_NAME), 'packed dataset manifest');
  if (manifest.format !== 'llama-moe-packed') throw new DataError('read', `${join(dir, MANIFEST_NAME)}: format is ${String(manifest.format)}, expected llama-moe-packed`);
  if (opts.tokenizer) {
    const h = tokenizerHash(opts.tokenizer);
    if (h !== manifest.tokenizer_hash) throw new DataError('state', `${dir}: packed with tokenizer ${manifest.tokenizer_hash}, current tokenizer is ${h}; re-pack the data`);
  }
  const sources = Object.entries(manifest.domains).map(([name, d]) => ({ name, files: d.files.map((f) => join(dir, f)), format: 'tokens' as const }));
  return { manifest, sources };
}
