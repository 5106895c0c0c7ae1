/**
 * Lazy GGUF v3 reader. `open` reads and validates the header (metadata and tensor infos) through
 * a cursor that checks every length against the bytes left in the file before it allocates, so a
 * lying count or string length gives a GgufError, never a huge allocation. Tensor infos are
 * checked completely: known type, 1..4 positive dims, block-aligned ne[0], offsets aligned,
 * inside the file and not overlapping. `read*` reads one tensor with one positioned read.
 */
import * as fs from 'node:fs';
import { Tensor } from '@llama-moe/tensor-core';
import { GgufError } from './errors.js';
import { MAX_IO_BYTES } from './atomic.js';
import {
  alignUp,
  decodeGgmlElements,
  fmtNe,
  ggmlByteLength,
  ggmlTypeLabel,
  ggmlTypeName,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_MAX_DIMS,
  GGUF_SCALAR_BYTES,
  GGUF_VALUE_TYPE_NAMES,
  ggufValueToJs,
  type GgmlTypeName,
  type GgufValue,
  type GgufValueTypeName,
} from './gguf-format.js';
import { openRegularFile } from './open-file.js';

export interface GgufTensorInfo {
  name: string;
  type: GgmlTypeName;
  /** Dims as stored, ne[0] fastest. */
  ne: readonly number[];
  /** Row-major shape (ne reversed), as the PyTorch tensor would be. */
  shape: readonly number[];
  /** Offset relative to the data section. */
  offset: number;
  byteLength: number;
}

/** Longest key / string we accept (llama.cpp has no limit; a chat template of a few hundred KB is real). */
const MAX_STRING_BYTES = 64 << 20;

class Cursor {
  pos: number;
  private window = new Uint8Array(0);
  private windowStart = 0;
  constructor(
    private readonly fd: number,
    private readonly size: number,
    private readonly file: string,
  ) {
    this.pos = 0;
  }
  fail(what: string): never {
    throw new GgufError(this.file, null, what);
  }
  /** `n` bytes at the cursor; refuses (before allocating) when the file does not hold them. */
  take(n: number, what: string): Uint8Array {
    if (!Number.isSafeInteger(n) || n < 0 || this.pos + n > this.size) this.fail(`file ended while reading ${what} (needs ${n} bytes at offset ${this.pos}, the file has ${this.size})`);
    const ws = this.windowStart;
    if (this.pos >= ws && this.pos + n <= ws + this.window.byteLength) {
      const v = this.window.subarray(this.pos - ws, this.pos - ws + n);
      this.pos += n;
      return v;
    }
    const len = Math.min(this.size - this.pos, Math.max(n, 1 << 20));
    const buf = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      let got: number;
      try {
        got = fs.readSync(this.fd, buf, done, Math.min(MAX_IO_BYTES, len - done), this.pos + done);
      } catch (e) {
        this.fail(`cannot read ${what}: ${(e as Error).message}`);
      }
      if (got === 0) this.fail(`file ended while reading ${what} (was it truncated or rewritten while open?)`);
      done += got;
    }
    this.window = buf;
    this.windowStart = this.pos;
    this.pos += n;
    return buf.subarray(0, n);
  }
  left(): number {
    return this.size - this.pos;
  }
  private dv(n: number, what: string): DataView {
    const b = this.take(n, what);
    return new DataView(b.buffer, b.byteOffset, n);
  }
  u32(what: string): number {
    return this.dv(4, what).getUint32(0, true);
  }
  u64(what: string): number {
    const v = this.dv(8, what).getBigUint64(0, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} is ${v}, beyond any real file`);
    return Number(v);
  }
  str(what: string): string {
    const n = this.u64(`the length of ${what}`);
    if (n > MAX_STRING_BYTES) this.fail(`${what} claims ${n} bytes (over ${MAX_STRING_BYTES})`);
    const b = this.take(n, what);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(b);
    } catch {
      return this.fail(`${what} is not valid UTF-8`);
    }
  }
  scalar(type: Exclude<GgufValueTypeName, 'ARRAY' | 'STRING'>, what: string): number | bigint | boolean {
    const dv = this.dv(GGUF_SCALAR_BYTES[type], what);
    switch (type) {
      case 'UINT8': return dv.getUint8(0);
      case 'INT8': return dv.getInt8(0);
      case 'UINT16': return dv.getUint16(0, true);
      case 'INT16': return dv.getInt16(0, true);
      case 'UINT32': return dv.getUint32(0, true);
      case 'INT32': return dv.getInt32(0, true);
      case 'FLOAT32': return dv.getFloat32(0, true);
      case 'FLOAT64': return dv.getFloat64(0, true);
      case 'BOOL': {
        const b = dv.getUint8(0);
        if (b > 1) this.fail(`${what} is a BOOL holding ${b}`);
        return b === 1;
      }
      case 'UINT64': return dv.getBigUint64(0, true);
      case 'INT64': return dv.getBigInt64(0, true);
    }
  }
}

function valueTypeName(c: Cursor, id: number, what: string): GgufValueTypeName {
  const n = GGUF_VALUE_TYPE_NAMES[id];
  if (n === undefined) c.fail(`${what} has unknown value type ${id}`);
  return n;
}

function readValue(c: Cursor, key: string, type: GgufValueTypeName): GgufValue {
  const what = `metadata '${key}'`;
  if (type === 'STRING') return { type, value: c.str(what) };
  if (type !== 'ARRAY') return { type, value: c.scalar(type, what) } as GgufValue;
  const it = valueTypeName(c, c.u32(`${what} item type`), `${what} item`);
  if (it === 'ARRAY') c.fail(`${what} is an array of arrays (not used by llama.cpp models; refused)`);
  const count = c.u64(`${what} length`);
  const minBytes = it === 'STRING' ? 8 : GGUF_SCALAR_BYTES[it];
  if (count * minBytes > c.left()) c.fail(`${what} claims ${count} items, more than the file holds`);
  if (it === 'STRING') {
    const out: string[] = new Array(count);
    for (let i = 0; i < count; i++) out[i] = c.str(`${what}[${i}]`);
    return { type: 'ARRAY', itemType: 'STRING', value: out };
  }
  const bytes = c.take(count * minBytes, what);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const get = (i: number): number | bigint | boolean => {
    const o = i * minBytes;
    switch (it) {
      case 'UINT8': return dv.getUint8(o);
      case 'INT8': return dv.getInt8(o);
      case 'UINT16': return dv.getUint16(o, true);
      case 'INT16': return dv.getInt16(o, true);
      case 'UINT32': return dv.getUint32(o, true);
      case 'INT32': return dv.getInt32(o, true);
      case 'FLOAT32': return dv.getFloat32(o, true);
      case 'FLOAT64': return dv.getFloat64(o, true);
      case 'BOOL': return dv.getUint8(o) !== 0;
      case 'UINT64': return dv.getBigUint64(o, true);
      case 'INT64': return dv.getBigInt64(o, true);
    }
  };
  if (it === 'BOOL') return { type: 'ARRAY', itemType: 'BOOL', value: Array.from({ length: count }, (_, i) => get(i) as boolean) };
  if (it === 'UINT64' || it === 'INT64') return { type: 'ARRAY', itemType: it, value: Array.from({ length: count }, (_, i) => get(i) as bigint) };
  const arr = it === 'FLOAT32' ? new Float32Array(count) : it === 'FLOAT64' ? new Float64Array(count) : new Int32Array(count);
  const out = it === 'UINT32' ? new Float64Array(count) : arr;
  for (let i = 0; i < count; i++) out[i] = get(i) as number;
  return { type: 'ARRAY', itemType: it, value: out };
}

export class GgufFile {
  readonly path: string;
  readonly version: number;
  readonly fileSize: number;
  readonly alignment: number;
  /** Absolute offset of the data section. */
  readonly dataStart: number;
  /** Metadata in file order. */
  readonly metadata: ReadonlyMap<string, GgufValue>;
  private readonly infos: Map<string, GgufTensorInfo>;
  private fd: number | null;

  private constructor(path: string, fd: number, fileSize: number, version: number, alignment: number, dataStart: number, metadata: Map<string, GgufValue>, infos: Map<string, GgufTensorInfo>) {
    this.path = path;
    this.fd = fd;
    this.fileSize = fileSize;
    this.version = version;
    this.alignment = alignment;
    this.dataStart = dataStart;
    this.metadata = metadata;
    this.infos = infos;
  }

  static open(path: string): GgufFile {
    const { fd, size } = openRegularFile(path, (message) => new GgufError(path, null, message));
    try {
      const c = new Cursor(fd, size, path);
      if (size < 24) c.fail(`${size} bytes is too short for a GGUF header (24)`);
      const magic = c.u32('the magic');
      if (magic !== GGUF_MAGIC) c.fail(`not a GGUF file (magic ${JSON.stringify(new TextDecoder('latin1').decode(new Uint8Array(new Uint32Array([magic]).buffer)))}, expected "GGUF")`);
      const version = c.u32('the version');
      if (version !== 3 && version !== 2) c.fail(`GGUF version ${version} is not supported (2 or 3)`);
      const nTensors = c.u64('the tensor count');
      const nKv = c.u64('the metadata count');
      // Each KV needs >= 8 + 4 + 1 bytes, each tensor info >= 8 + 4 + 8 + 4 + 8.
      if (nKv * 13 + nTensors * 32 > size - c.pos) c.fail(`header claims ${nKv} metadata entries and ${nTensors} tensors, more than the file holds`);
      const metadata = new Map<string, GgufValue>();
      for (let i = 0; i < nKv; i++) {
        const key = c.str(`metadata key #${i}`);
        if (metadata.has(key)) c.fail(`metadata '${key}' appears twice`);
        const type = valueTypeName(c, c.u32(`metadata '${key}' type`), `metadata '${key}'`);
        metadata.set(key, readValue(c, key, type));
      }
      let alignment = GGUF_DEFAULT_ALIGNMENT;
      const al = metadata.get('general.alignment');
      if (al !== undefined) {
        if (al.type !== 'UINT32' || al.value === 0 || (al.value & (al.value - 1)) !== 0) c.fail(`metadata 'general.alignment' must be a UINT32 power of two, got ${JSON.stringify(ggufValueToJs(al))}`);
        alignment = al.value as number;
      }
      const infos = new Map<string, GgufTensorInfo>();
      for (let i = 0; i < nTensors; i++) {
        const name = c.str(`tensor name #${i}`);
        const tfail = (what: string): never => {
          throw new GgufError(path, name, what);
        };
        if (infos.has(name)) tfail('appears twice');
        const nd = c.u32(`tensor '${name}' n_dims`);
        if (nd < 1 || nd > GGUF_MAX_DIMS) tfail(`n_dims ${nd} is not 1..${GGUF_MAX_DIMS}`);
        const ne: number[] = [];
        for (let d = 0; d < nd; d++) {
          const v = c.u64(`tensor '${name}' ne[${d}]`);
          if (v < 1) tfail(`ne[${d}] is ${v}`);
          ne.push(v);
        }
        const typeId = c.u32(`tensor '${name}' type`);
        const type = ggmlTypeName(typeId);
        if (type === null) tfail(`type ${ggmlTypeLabel(typeId)} is not supported (F32, F16, BF16, Q8_0)`);
        const bytes = ggmlByteLength(type!, ne);
        if (typeof bytes === 'string') tfail(bytes);
        const offset = c.u64(`tensor '${name}' offset`);
        if (offset % alignment !== 0) tfail(`offset ${offset} is not a multiple of the alignment ${alignment}`);
        infos.set(name, { name, type: type!, ne, shape: [...ne].reverse(), offset, byteLength: bytes as number });
      }
      const dataStart = alignUp(c.pos, alignment);
      const dataBytes = size - dataStart;
      const sorted = [...infos.values()].sort((a, b) => a.offset - b.offset);
      let end = 0;
      for (const t of sorted) {
        if (t.offset < end) throw new GgufError(path, t.name, `data [${t.offset}, ${t.offset + t.byteLength}) overlaps the previous tensor (ends at ${end})`);
        if (t.offset + t.byteLength > dataBytes) throw new GgufError(path, t.name, `${t.type} ${fmtNe(t.ne)} needs data [${t.offset}, ${t.offset + t.byteLength}) but the data section has ${Math.max(0, dataBytes)} bytes (truncated file?)`);
        end = t.offset + t.byteLength;
      }
      return new GgufFile(path, fd, size, version, alignment, dataStart, metadata, infos);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Tensor names in file order. */
  keys(): string[] {
    return [...this.infos.keys()];
  }

  has(name: string): boolean {
    return this.infos.has(name);
  }

  info(name: string): GgufTensorInfo {
    const i = this.infos.get(name);
    if (!i) throw new GgufError(this.path, name, `no such tensor (the file holds ${this.infos.size}${this.infos.size ? `, e.g. '${this.keys()[0]}'` : ''})`);
    return i;
  }

  /** A metadata value, or undefined. */
  get(key: string): GgufValue | undefined {
    return this.metadata.get(key);
  }

  /** Metadata as plain JS values (bigints beyond 2^53 as strings). */
  metadataJs(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of this.metadata) out[k] = ggufValueToJs(v);
    return out;
  }

  readRaw(name: string): Uint8Array {
    const info = this.info(name);
    if (this.fd === null) throw new GgufError(this.path, name, 'file is closed');
    const buf = new Uint8Array(info.byteLength);
    let done = 0;
    while (done < buf.byteLength) {
      let got: number;
      try {
        got = fs.readSync(this.fd, buf, done, Math.min(MAX_IO_BYTES, buf.byteLength - done), this.dataStart + info.offset + done);
      } catch (e) {
        throw new GgufError(this.path, name, `cannot read: ${(e as Error).message}`);
      }
      if (got === 0) throw new GgufError(this.path, name, `file ended while reading ${info.byteLength} data bytes (truncated or rewritten while open?)`);
      done += got;
    }
    return buf;
  }

  /** The tensor as f32 in row-major order (Q8_0 dequantized). */
  readF32(name: string): Float32Array {
    return decodeGgmlElements(this.readRaw(name), this.info(name).type);
  }

  readTensor(name: string): Tensor {
    return new Tensor(this.readF32(name), this.info(name).shape, { name });
  }

  get closed(): boolean {
    return this.fd === null;
  }

  close(): void {
    if (this.fd !== null) {
      const fd = this.fd;
      this.fd = null;
      fs.closeSync(fd);
    }
  }
}
