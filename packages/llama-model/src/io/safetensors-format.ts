/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian u64
 * header length N, N bytes of UTF-8 JSON, then the data section. The JSON maps each tensor name to
 * `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the start of the data section)
 * plus an optional `__metadata__` string->string map. This module validates a header completely
 * before anything is allocated from it; the reader and the writer share its tables.
 */
import { STORAGE_DTYPE_BYTES, type StorageDType } from '@llama-moe/tensor-core';
import { SafetensorsError } from './errors.js';
import { findDuplicateKey, isJsonObject } from './json-util.js';

export type SafetensorsDType = StorageDType;

/** Every dtype this reader and writer handle, in the order of the safetensors spec. */
export const SAFETENSORS_DTYPES: readonly SafetensorsDType[] = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'];

/** Same limit as the Rust implementation: a header beyond 100 MB is refused before reading it. */
export const MAX_HEADER_BYTES = 100_000_000;

export const METADATA_KEY = '__metadata__';

export function isSafetensorsDType(s: unknown): s is SafetensorsDType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(STORAGE_DTYPE_BYTES, s);
}

export function isFloatDType(d: SafetensorsDType): boolean {
  return d === 'F64' || d === 'F32' || d === 'F16' || d === 'BF16';
}

/** One tensor's header entry, validated. */
export interface SafetensorsTensorInfo {
  dtype: SafetensorsDType;
  shape: readonly number[];
  /** end - begin == prod(shape) * bytes(dtype). */
  byteLength: number;
  /** [begin, end) relative to the data section. */
  dataOffsets: readonly [number, number];
}

export interface SafetensorsHeader {
  /** Tensors in header order. */
  tensors: Map<string, SafetensorsTensorInfo>;
  metadata: Readonly<Record<string, string>>;
}

export function fmtDims(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** prod(shape) * bytes, or null when it is not an exact JS integer (a lying shape must not wrap around). */
export function tensorByteLength(shape: readonly number[], dtype: SafetensorsDType): number | null {
  if (shape.includes(0)) return 0;
  let n = STORAGE_DTYPE_BYTES[dtype];
  for (const d of shape) {
    n *= d;
    if (!Number.isSafeInteger(n)) return null;
  }
  return n;
}

/**
 * Read the u64 header length from the first 8 bytes and check it against the file size and the
 * 100 MB cap. BigInt comparison first, so 2^63 is an error, not a rounded Number.
 */
export function parseHeaderLength(first8: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8 || first8.byteLength < 8) {
    throw new SafetensorsError(file, null, `file is ${fileSize} bytes, too short for the 8-byte header length (not a safetensors file?)`);
  }
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  const room = BigInt(fileSize - 8);
  if (n > room) {
    throw new SafetensorsError(file, null, `header length ${n} exceeds the ${room} bytes after the length field (truncated or not a safetensors file)`);
  }
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(file, null, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (n < 2n) throw new SafetensorsError(file, null, `header length ${n} is too short to hold a JSON object`);
  return Number(n);
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Parse and validate the JSON header. `dataSize` is the length of the data section
 * (file size - 8 - N). Checks, in order: UTF-8, JSON object, no duplicate keys, metadata
 * string->string, each entry's dtype / shape / offsets / size, offsets inside the data section, and
 * that the entries tile the data section exactly (no holes, no overlaps, nothing trailing).
 */
export function parseHeader(headerBytes: Uint8Array, dataSize: number, file: string): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    throw new SafetensorsError(file, null, 'header is not valid UTF-8');
  }
  if (!text.startsWith('{')) {
    throw new SafetensorsError(file, null, `header must start with '{', found ${JSON.stringify(text.slice(0, 16))}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(file, null, `header is not valid JSON (${(e as Error).message})`);
  }
  if (!isJsonObject(json)) throw new SafetensorsError(file, null, 'header JSON must be an object');
  const dup = findDuplicateKey(text);
  if (dup) {
    const where = dup.path.length ? ` inside '${dup.path.join('.')}'` : '';
    throw new SafetensorsError(file, dup.path.length ? dup.path[0]! : dup.key, `header repeats key '${dup.key}'${where}`);
  }

  let metadata: Record<string, string> = {};
  const rawMeta = json[METADATA_KEY];
  if (rawMeta !== undefined && rawMeta !== null) {
    if (!isJsonObject(rawMeta)) throw new SafetensorsError(file, null, `'${METADATA_KEY}' must be an object of strings`);
    for (const [k, v] of Object.entries(rawMeta)) {
      if (typeof v !== 'string') throw new SafetensorsError(file, null, `'${METADATA_KEY}'.'${k}' must be a string, got ${JSON.stringify(v)}`);
    }
    metadata = rawMeta as Record<string, string>;
  }

  const tensors = new Map<string, SafetensorsTensorInfo>();
  for (const [name, entry] of Object.entries(json)) {
    if (name === METADATA_KEY) continue;
    if (!isJsonObject(entry)) throw new SafetensorsError(file, name, 'header entry must be an object {dtype, shape, data_offsets}');
    const { dtype, shape, data_offsets: offs } = entry;
    if (!isSafetensorsDType(dtype)) {
      throw new SafetensorsError(file, name, `unknown dtype ${JSON.stringify(dtype)} (expected one of ${SAFETENSORS_DTYPES.join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
      throw new SafetensorsError(file, name, `shape ${JSON.stringify(shape)} must be an array of non-negative integers`);
    }
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isNonNegInt)) {
      throw new SafetensorsError(file, name, `data_offsets ${JSON.stringify(offs)} must be [begin, end] non-negative integers`);
    }
    const [begin, end] = offs as [number, number];
    if (begin > end) throw new SafetensorsError(file, name, `data_offsets [${begin}, ${end}] has begin > end`);
    const need = tensorByteLength(shape, dtype);
    if (need === null) throw new SafetensorsError(file, name, `${dtype} ${fmtDims(shape)} is too large to address`);
    if (end - begin !== need) {
      throw new SafetensorsError(file, name, `data_offsets [${begin}, ${end}] hold ${end - begin} bytes but ${dtype} ${fmtDims(shape)} needs ${need}`);
    }
    if (end > dataSize) {
      throw new SafetensorsError(file, name, `data_offsets [${begin}, ${end}] run past the ${dataSize}-byte data section (truncated file?)`);
    }
    tensors.set(name, { dtype, shape: Object.freeze([...shape]), byteLength: need, dataOffsets: Object.freeze([begin, end]) as readonly [number, number] });
  }

  checkCoverage(tensors, dataSize, file);
  return { tensors, metadata: Object.freeze({ ...metadata }) };
}

/** The spec requires the tensors to tile the data section: report holes, overlaps and trailing bytes by name. */
function checkCoverage(tensors: Map<string, SafetensorsTensorInfo>, dataSize: number, file: string): void {
  const sorted = [...tensors.entries()].sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0] || a[1].dataOffsets[1] - b[1].dataOffsets[1]);
  let expected = 0;
  let prev: string | null = null;
  for (const [name, info] of sorted) {
    const [begin, end] = info.dataOffsets;
    if (begin > expected) {
      const after = prev === null ? 'at the start of the data section' : `after tensor '${prev}'`;
      throw new SafetensorsError(file, name, `hole: data bytes [${expected}, ${begin}) ${after} belong to no tensor`);
    }
    if (begin < expected) {
      throw new SafetensorsError(file, name, `data_offsets [${begin}, ${end}] overlap tensor '${prev}' (which ends at ${expected})`);
    }
    expected = end;
    prev = name;
  }
  if (expected !== dataSize) {
    const after = prev === null ? 'the header (no tensors)' : `tensor '${prev}'`;
    throw new SafetensorsError(file, null, `${dataSize - expected} trailing data bytes [${expected}, ${dataSize}) after ${after} belong to no tensor`);
  }
}
