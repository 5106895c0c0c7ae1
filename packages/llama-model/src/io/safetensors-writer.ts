/**
 * safetensors writer. Same layout as the Rust implementation: u64 LE header length, compact JSON
 * header (`__metadata__` first, then tensors in the order given) padded with spaces to a multiple of
 * 8 bytes, then each tensor's little-endian bytes back to back. Data is converted from the given
 * array to the target dtype (f32 -> f16 / bf16 with round-to-nearest-even) in bounded chunks and
 * streamed to `<path>.tmp-<pid>`, then fsynced and renamed: nothing half-written is ever visible.
 */
import * as fs from 'node:fs';
import { f32ToBf16, f32ToF16, STORAGE_DTYPE_BYTES } from '@llama-moe/tensor-core';
import { SafetensorsError } from './errors.js';
import { removeQuietly, tempPathFor, writeAllSync, writevAllSync, writeFileAtomicWith, writeTempFile } from './atomic.js';
import { fmtDims, isSafetensorsDType, METADATA_KEY, SAFETENSORS_DTYPES, tensorByteLength, type SafetensorsDType } from './safetensors-format.js';
import { toLeBytes } from './little-endian.js';

/**
 * What a tensor's data may be:
 * - Float32Array / Float64Array / Int32Array: values, converted to the target dtype (integer dtypes
 *   require integer values in range; F16 / BF16 from Float64Array go through f32),
 * - Uint16Array: raw F16 / BF16 bit patterns,
 * - BigInt64Array: I64 values,
 * - Uint8Array: the raw little-endian bytes of the target dtype (for U8 / BOOL, also the values).
 */
export type SafetensorsTensorData = Float32Array | Float64Array | Int32Array | Uint16Array | Uint8Array | BigInt64Array;

export interface SafetensorsTensorInput {
  /** Hugging Face tensor name, e.g. `model.layers.0.mlp.up_proj.weight`. */
  name: string;
  dtype: SafetensorsDType;
  shape: readonly number[];
  /** The data, or a function producing it only when this tensor is written (keeps memory to one tensor). */
  data: SafetensorsTensorData | (() => SafetensorsTensorData);
  /**
   * Raw little-endian bytes in pieces, used instead of `data` when given: a copy from another file
   * streams through one reused buffer instead of materialising the tensor. The pieces must add up to
   * exactly the tensor's byte length; each piece is written before the next is requested. A piece may
   * be a list of views (e.g. the rows of an expert, picked from a larger matrix): they are written
   * in order with writev(2), without concatenating them first.
   */
  chunks?: () => Iterable<Uint8Array | readonly Uint8Array[]>;
}

export interface SafetensorsWriteResult {
  path: string;
  /** Total file size in bytes. */
  byteLength: number;
  tensors: number;
}

/** Elements converted per chunk: bounds the temporary buffers to a few MB whatever the tensor size. */
const CHUNK_ELEMENTS = 1 << 20;

interface HeaderEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: readonly number[];
  byteLength: number;
}

/** Validate a tensor's name, dtype and shape; returns its byte length. */
export function checkTensorInput(t: SafetensorsTensorInput, file: string): number {
  const name = t?.name;
  if (typeof name !== 'string' || name.length === 0) throw new SafetensorsError(file, null, `tensor name must be a non-empty string, got ${JSON.stringify(name)}`);
  if (name === METADATA_KEY) throw new SafetensorsError(file, name, `'${METADATA_KEY}' is reserved for metadata`);
  if (!isSafetensorsDType(t.dtype)) throw new SafetensorsError(file, name, `unknown dtype ${JSON.stringify(t.dtype)} (expected one of ${SAFETENSORS_DTYPES.join(', ')})`);
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError(file, name, `shape ${JSON.stringify(t.shape)} must be an array of non-negative integers`);
  }
  const bytes = tensorByteLength(t.shape, t.dtype);
  if (bytes === null) throw new SafetensorsError(file, name, `${t.dtype} ${fmtDims(t.shape)} is too large`);
  return bytes;
}

function checkMetadata(metadata: Record<string, string> | undefined, file: string): void {
  if (metadata === undefined) return;
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw new SafetensorsError(file, null, 'metadata must be an object of strings');
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new SafetensorsError(file, null, `metadata '${k}' must be a string, got ${JSON.stringify(v)}`);
  }
}

/** The 8-byte length prefix plus the space-padded JSON header for `entries` laid out back to back. */
export function encodeHeader(entries: readonly HeaderEntry[], metadata: Record<string, string> | undefined, file = '<memory>'): Uint8Array {
  checkMetadata(metadata, file);
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header[METADATA_KEY] = metadata;
  let offset = 0;
  for (const e of entries) {
    if (Object.prototype.hasOwnProperty.call(header, e.name)) throw new SafetensorsError(file, e.name, 'tensor name given twice');
    header[e.name] = { dtype: e.dtype, shape: [...e.shape], data_offsets: [offset, offset + e.byteLength] };
    offset += e.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20, 8 + json.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}

function elementsOf(data: SafetensorsTensorData): string {
  return `${data.constructor.name}(${data.length})`;
}

const INT_RANGE: Partial<Record<SafetensorsDType, readonly [number, number]>> = {
  I32: [-2147483648, 2147483647],
  I16: [-32768, 32767],
  I8: [-128, 127],
  U8: [0, 255],
  BOOL: [0, 1],
};

/**
 * Little-endian bytes of `data` as `dtype`, in chunks. Throws SafetensorsError for a wrong length,
 * an array type that cannot hold the dtype, or an integer dtype given non-integer / out-of-range values.
 */
export function* encodeTensorData(name: string, dtype: SafetensorsDType, shape: readonly number[], data: SafetensorsTensorData, file: string): Generator<Uint8Array> {
  const need = tensorByteLength(shape, dtype)!;
  const n = need / STORAGE_DTYPE_BYTES[dtype];
  const fail = (detail: string): never => {
    throw new SafetensorsError(file, name, detail);
  };
  if (data instanceof Uint8Array) {
    if (data.byteLength !== need) fail(`raw data has ${data.byteLength} bytes but ${dtype} ${fmtDims(shape)} needs ${need}`);
    yield data;
    return;
  }
  if (data.length !== n) fail(`data ${elementsOf(data)} has ${data.length} elements but ${dtype} ${fmtDims(shape)} needs ${n}`);
  if (data instanceof Uint16Array) {
    if (dtype !== 'F16' && dtype !== 'BF16') fail(`Uint16Array data is raw F16/BF16 bits; it cannot be written as ${dtype}`);
    yield toLeBytes(data);
    return;
  }
  if (data instanceof BigInt64Array) {
    if (dtype !== 'I64') fail(`BigInt64Array data can only be written as I64, not ${dtype}`);
    yield toLeBytes(data);
    return;
  }
  if (!(data instanceof Float32Array || data instanceof Float64Array || data instanceof Int32Array)) {
    return fail(`unsupported data type ${Object.prototype.toString.call(data)}`);
  }
  // Same array type as the dtype: no conversion, one view.
  if ((dtype === 'F32' && data instanceof Float32Array) || (dtype === 'F64' && data instanceof Float64Array) || (dtype === 'I32' && data instanceof Int32Array)) {
    yield toLeBytes(data);
    return;
  }
  for (let start = 0; start < n; start += CHUNK_ELEMENTS) {
    const part = data.subarray(start, Math.min(n, start + CHUNK_ELEMENTS));
    switch (dtype) {
      case 'F32':
        yield toLeBytes(Float32Array.from(part));
        break;
      case 'F64':
        yield toLeBytes(Float64Array.from(part));
        break;
      case 'F16':
        yield toLeBytes(f32ToF16(part instanceof Float32Array ? part : Float32Array.from(part)));
        break;
      case 'BF16':
        yield toLeBytes(f32ToBf16(part instanceof Float32Array ? part : Float32Array.from(part)));
        break;
      case 'I64': {
        const out = new BigInt64Array(part.length);
        for (let i = 0; i < part.length; i++) {
          const v = part[i]!;
          if (!Number.isSafeInteger(v)) fail(`value ${v} at element ${start + i} is not an integer that I64 can hold exactly`);
          out[i] = BigInt(v);
        }
        yield toLeBytes(out);
        break;
      }
      default: {
        const [lo, hi] = INT_RANGE[dtype]!;
        const out = dtype === 'I32' ? new Int32Array(part.length) : dtype === 'I16' ? new Int16Array(part.length) : dtype === 'I8' ? new Int8Array(part.length) : new Uint8Array(part.length);
        for (let i = 0; i < part.length; i++) {
          const v = part[i]!;
          if (!Number.isInteger(v) || v < lo || v > hi) fail(`value ${v} at element ${start + i} is not representable as ${dtype} (integers ${lo}..${hi})`);
          out[i] = v;
        }
        yield toLeBytes(out);
      }
    }
  }
}

/** Resolve lazy data and stream one tensor's bytes to `fd`; returns the bytes written. */
export function writeTensorData(fd: number, t: SafetensorsTensorInput, file: string): number {
  if (t.chunks) {
    const need = tensorByteLength(t.shape, t.dtype)!;
    let got = 0;
    for (const c of t.chunks()) {
      const bytes = c instanceof Uint8Array ? c.byteLength : c.reduce((s, v) => s + v.byteLength, 0);
      if (got + bytes > need) throw new SafetensorsError(file, t.name, `chunks hold more than the ${need} bytes of ${t.dtype} ${fmtDims(t.shape)}`);
      if (c instanceof Uint8Array) writeAllSync(fd, c);
      else writevAllSync(fd, c);
      got += bytes;
    }
    if (got !== need) throw new SafetensorsError(file, t.name, `chunks hold ${got} bytes but ${t.dtype} ${fmtDims(t.shape)} needs ${need}`);
    return got;
  }
  const data = typeof t.data === 'function' ? t.data() : t.data;
  let written = 0;
  for (const chunk of encodeTensorData(t.name, t.dtype, t.shape, data, file)) {
    writeAllSync(fd, chunk);
    written += chunk.byteLength;
  }
  return written;
}

/** Append the whole content of `src` to `fd` in 8 MB pieces (assembling header + streamed data). */
export function appendFileTo(fd: number, src: string): void {
  const buf = new Uint8Array(8 << 20);
  const inFd = fs.openSync(src, 'r');
  try {
    for (;;) {
      const got = fs.readSync(inFd, buf, 0, buf.byteLength, null);
      if (got === 0) break;
      writeAllSync(fd, buf.subarray(0, got));
    }
  } finally {
    fs.closeSync(inFd);
  }
}

/**
 * Write a whole safetensors file to `fd`: header then data. Used for a single file and for each
 * shard whose membership is known up front.
 */
export function writeSafetensorsTo(fd: number, tensors: readonly SafetensorsTensorInput[], metadata: Record<string, string> | undefined, file: string): number {
  const entries = tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, byteLength: checkTensorInput(t, file) }));
  const header = encodeHeader(entries, metadata, file);
  writeAllSync(fd, header);
  let total = header.byteLength;
  for (const t of tensors) total += writeTensorData(fd, t, file);
  return total;
}

/**
 * Write `tensors` to `path` atomically. An array is written in one pass (its header is known up
 * front; lazy `data` functions are called one tensor at a time). Any other iterable is consumed
 * once, streaming data to a side temp file, then header + data are assembled: memory stays at one
 * tensor either way.
 */
export function writeSafetensors(
  path: string,
  tensors: readonly SafetensorsTensorInput[] | Iterable<SafetensorsTensorInput>,
  metadata?: Record<string, string>,
): SafetensorsWriteResult {
  checkMetadata(metadata, path);
  let byteLength = 0;
  let count = 0;
  if (Array.isArray(tensors)) {
    const list = tensors as readonly SafetensorsTensorInput[];
    writeFileAtomicWith(path, (fd) => {
      byteLength = writeSafetensorsTo(fd, list, metadata, path);
    });
    return { path, byteLength, tensors: list.length };
  }
  const dataTmp = `${tempPathFor(path)}.data`;
  const entries: HeaderEntry[] = [];
  try {
    const seen = new Set<string>();
    writeTempFile(dataTmp, (fd) => {
      for (const t of tensors) {
        const bytes = checkTensorInput(t, path);
        if (seen.has(t.name)) throw new SafetensorsError(path, t.name, 'tensor name given twice');
        seen.add(t.name);
        writeTensorData(fd, t, path);
        entries.push({ name: t.name, dtype: t.dtype, shape: [...t.shape], byteLength: bytes });
      }
    });
    writeFileAtomicWith(path, (fd) => {
      const header = encodeHeader(entries, metadata, path);
      writeAllSync(fd, header);
      appendFileTo(fd, dataTmp);
      byteLength = header.byteLength + entries.reduce((s, e) => s + e.byteLength, 0);
    });
    count = entries.length;
  } finally {
    removeQuietly(dataTmp);
  }
  return { path, byteLength, tensors: count };
}

/** The complete file as bytes (small files, tests, network transfer). */
export function serializeSafetensors(tensors: readonly SafetensorsTensorInput[], metadata?: Record<string, string>): Uint8Array {
  const file = '<memory>';
  const entries = tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, byteLength: checkTensorInput(t, file) }));
  const header = encodeHeader(entries, metadata, file);
  const out = new Uint8Array(header.byteLength + entries.reduce((s, e) => s + e.byteLength, 0));
  out.set(header, 0);
  let off = header.byteLength;
  for (const t of tensors) {
    const data = typeof t.data === 'function' ? t.data() : t.data;
    for (const chunk of encodeTensorData(t.name, t.dtype, t.shape, data, file)) {
      out.set(chunk, off);
      off += chunk.byteLength;
    }
  }
  return out;
}
