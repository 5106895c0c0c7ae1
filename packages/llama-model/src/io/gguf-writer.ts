/**
 * GGUF v3 writer. The header (metadata, tensor infos with their aligned offsets) is computed up
 * front from names, types and shapes, so the file is written in one pass: header, padding, then
 * each tensor's bytes converted from f32 (F16 / BF16 round to nearest even; Q8_0 as ggml's
 * reference quantizer) in bounded chunks, each tensor padded to the alignment. Lazy `data`
 * functions are called one tensor at a time, so memory stays at one tensor. Written to
 * `<path>.tmp-<pid>`, fsynced and renamed: nothing half-written is ever visible.
 */
import { GgufError } from './errors.js';
import { writeAllSync, writeFileAtomicWith } from './atomic.js';
import {
  alignUp,
  encodeGgmlElements,
  fmtNe,
  GGML_BLOCK,
  GGML_TYPE_NAMES,
  GGML_TYPES,
  ggmlByteLength,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_MAX_DIMS,
  GGUF_SCALAR_BYTES,
  GGUF_VERSION,
  GgufValueType,
  type GgmlTypeName,
  type GgufValue,
} from './gguf-format.js';

export interface GgufTensorInput {
  /** llama.cpp tensor name, e.g. `blk.0.attn_q.weight`. */
  name: string;
  type: GgmlTypeName;
  /** Row-major shape, outermost first (PyTorch order); the file stores it reversed as `ne`. */
  shape: readonly number[];
  /** f32 values in row-major order, or a function producing them only when this tensor is written. */
  data: Float32Array | (() => Float32Array);
}

export type GgufMetadata = ReadonlyArray<readonly [string, GgufValue]>;

export interface GgufWriteResult {
  path: string;
  byteLength: number;
  tensors: number;
  alignment: number;
}

/** Elements converted per chunk (a multiple of 32 so Q8_0 blocks never straddle chunks). */
const CHUNK_ELEMENTS = 1 << 20;

/** A growable little-endian byte builder for the header. */
class ByteBuilder {
  private buf = new Uint8Array(1 << 16);
  private dv = new DataView(this.buf.buffer);
  length = 0;
  private ensure(n: number): void {
    if (this.length + n <= this.buf.byteLength) return;
    let cap = this.buf.byteLength * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.ensure(1);
    this.dv.setUint8(this.length++, v);
  }
  u32(v: number): void {
    this.ensure(4);
    this.dv.setUint32(this.length, v, true);
    this.length += 4;
  }
  u64(v: number | bigint): void {
    this.ensure(8);
    this.dv.setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.byteLength);
    this.buf.set(b, this.length);
    this.length += b.byteLength;
  }
  str(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.byteLength);
    this.bytes(b);
  }
  scalar(type: keyof typeof GGUF_SCALAR_BYTES, v: number | bigint | boolean): void {
    const n = GGUF_SCALAR_BYTES[type];
    this.ensure(n);
    const dv = this.dv;
    const o = this.length;
    switch (type) {
      case 'UINT8': dv.setUint8(o, v as number); break;
      case 'INT8': dv.setInt8(o, v as number); break;
      case 'UINT16': dv.setUint16(o, v as number, true); break;
      case 'INT16': dv.setInt16(o, v as number, true); break;
      case 'UINT32': dv.setUint32(o, v as number, true); break;
      case 'INT32': dv.setInt32(o, v as number, true); break;
      case 'FLOAT32': dv.setFloat32(o, v as number, true); break;
      case 'FLOAT64': dv.setFloat64(o, v as number, true); break;
      case 'BOOL': dv.setUint8(o, v ? 1 : 0); break;
      case 'UINT64': dv.setBigUint64(o, v as bigint, true); break;
      case 'INT64': dv.setBigInt64(o, v as bigint, true); break;
    }
    this.length += n;
  }
  pad(align: number): void {
    const n = alignUp(this.length, align) - this.length;
    this.ensure(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

const INT_RANGES: Record<string, readonly [number, number]> = {
  UINT8: [0, 255],
  INT8: [-128, 127],
  UINT16: [0, 65535],
  INT16: [-32768, 32767],
  UINT32: [0, 4294967295],
  INT32: [-2147483648, 2147483647],
};

function checkScalar(file: string, key: string, type: string, v: unknown): void {
  const bad = (what: string): never => {
    throw new GgufError(file, null, `metadata '${key}': ${what}`);
  };
  if (type === 'BOOL') {
    if (typeof v !== 'boolean') bad(`BOOL value must be a boolean, got ${String(v)}`);
  } else if (type === 'STRING') {
    if (typeof v !== 'string') bad(`STRING value must be a string, got ${typeof v}`);
  } else if (type === 'UINT64' || type === 'INT64') {
    if (typeof v !== 'bigint') bad(`${type} value must be a bigint`);
    const x = v as bigint;
    if (type === 'UINT64' ? x < 0n || x >= 1n << 64n : x < -(1n << 63n) || x >= 1n << 63n) bad(`${x} does not fit in ${type}`);
  } else if (type === 'FLOAT32' || type === 'FLOAT64') {
    if (typeof v !== 'number') bad(`${type} value must be a number`);
  } else {
    const [lo, hi] = INT_RANGES[type]!;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) bad(`${String(v)} is not a ${type} (integers ${lo}..${hi})`);
  }
}

function encodeValue(b: ByteBuilder, file: string, key: string, v: GgufValue): void {
  const typeId = (GgufValueType as Record<string, number>)[v?.type];
  if (typeId === undefined) throw new GgufError(file, null, `metadata '${key}': unknown value type ${JSON.stringify(v?.type)}`);
  b.u32(typeId);
  if (v.type === 'ARRAY') {
    const it = v.itemType;
    const itId = (GgufValueType as Record<string, number>)[it];
    if (itId === undefined || it === ('ARRAY' as string)) throw new GgufError(file, null, `metadata '${key}': unsupported array item type ${JSON.stringify(it)}`);
    b.u32(itId);
    const arr = v.value as ArrayLike<unknown>;
    b.u64(arr.length);
    for (let i = 0; i < arr.length; i++) {
      const x = arr[i];
      checkScalar(file, key, it, x);
      if (it === 'STRING') b.str(x as string);
      else b.scalar(it as keyof typeof GGUF_SCALAR_BYTES, x as number | bigint | boolean);
    }
    return;
  }
  checkScalar(file, key, v.type, v.value);
  if (v.type === 'STRING') b.str(v.value);
  else b.scalar(v.type, v.value);
}

interface Planned {
  t: GgufTensorInput;
  ne: number[];
  byteLength: number;
  offset: number;
}

/** Validate tensors and metadata; lay out the header. Returns the header bytes (padded) and the plan. */
export function planGguf(file: string, metadata: GgufMetadata, tensors: readonly GgufTensorInput[]): { header: Uint8Array; plan: Planned[]; alignment: number; dataBytes: number } {
  const keys = new Set<string>();
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  for (const [k, v] of metadata) {
    if (typeof k !== 'string' || k.length === 0) throw new GgufError(file, null, `metadata key must be a non-empty string, got ${JSON.stringify(k)}`);
    if (keys.has(k)) throw new GgufError(file, null, `metadata '${k}' given twice`);
    keys.add(k);
    if (k === 'general.alignment') {
      if (v.type !== 'UINT32' || !Number.isInteger(v.value) || v.value <= 0 || (v.value & (v.value - 1)) !== 0) {
        throw new GgufError(file, null, `metadata 'general.alignment' must be a UINT32 power of two`);
      }
      alignment = v.value;
    }
  }
  const b = new ByteBuilder();
  b.u32(GGUF_MAGIC);
  b.u32(GGUF_VERSION);
  b.u64(tensors.length);
  b.u64(metadata.length);
  for (const [k, v] of metadata) {
    b.str(k);
    encodeValue(b, file, k, v);
  }
  const names = new Set<string>();
  const plan: Planned[] = [];
  let offset = 0;
  for (const t of tensors) {
    const name = t?.name;
    if (typeof name !== 'string' || name.length === 0) throw new GgufError(file, null, `tensor name must be a non-empty string, got ${JSON.stringify(name)}`);
    if (names.has(name)) throw new GgufError(file, name, 'tensor name given twice');
    names.add(name);
    if (!GGML_TYPE_NAMES.includes(t.type)) throw new GgufError(file, name, `unsupported type ${JSON.stringify(t.type)} (expected one of ${GGML_TYPE_NAMES.join(', ')})`);
    if (!Array.isArray(t.shape) || t.shape.length === 0 || t.shape.length > GGUF_MAX_DIMS || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 1)) {
      throw new GgufError(file, name, `shape ${JSON.stringify(t.shape)} must be 1 to ${GGUF_MAX_DIMS} positive integers`);
    }
    const ne = [...t.shape].reverse();
    const bytes = ggmlByteLength(t.type, ne);
    if (typeof bytes === 'string') throw new GgufError(file, name, bytes);
    plan.push({ t, ne, byteLength: bytes, offset });
    offset = alignUp(offset + bytes, alignment);
    b.str(name);
    b.u32(ne.length);
    for (const d of ne) b.u64(d);
    b.u32(GGML_TYPES[t.type]);
    b.u64(plan[plan.length - 1]!.offset);
  }
  b.pad(alignment);
  return { header: b.view(), plan, alignment, dataBytes: offset };
}

function* tensorBytes(file: string, p: Planned): Generator<Uint8Array> {
  const data = typeof p.t.data === 'function' ? p.t.data() : p.t.data;
  const n = p.ne.reduce((a, d) => a * d, 1);
  if (!(data instanceof Float32Array)) throw new GgufError(file, p.t.name, `data must be a Float32Array, got ${Object.prototype.toString.call(data)}`);
  if (data.length !== n) throw new GgufError(file, p.t.name, `data has ${data.length} elements but ${p.t.type} ${fmtNe(p.ne)} needs ${n}`);
  const step = Math.max(GGML_BLOCK[p.t.type].elements, CHUNK_ELEMENTS - (CHUNK_ELEMENTS % GGML_BLOCK[p.t.type].elements));
  for (let s = 0; s < n; s += step) yield encodeGgmlElements(data.subarray(s, Math.min(n, s + step)), p.t.type);
}

/** Write a GGUF v3 file atomically. `general.alignment` in `metadata` sets the alignment (default 32). */
export function writeGguf(path: string, metadata: GgufMetadata, tensors: readonly GgufTensorInput[]): GgufWriteResult {
  const { header, plan, alignment, dataBytes } = planGguf(path, metadata, tensors);
  writeFileAtomicWith(path, (fd) => {
    writeAllSync(fd, header);
    let pos = 0;
    for (const p of plan) {
      let got = 0;
      for (const chunk of tensorBytes(path, p)) {
        writeAllSync(fd, chunk);
        got += chunk.byteLength;
      }
      pos = p.offset + got;
      const pad = alignUp(pos, alignment) - pos;
      if (pad > 0) writeAllSync(fd, new Uint8Array(pad));
      pos += pad;
    }
  });
  return { path, byteLength: header.byteLength + dataBytes, tensors: plan.length, alignment };
}

/** The complete file as bytes (tests, fuzzing). */
export function serializeGguf(metadata: GgufMetadata, tensors: readonly GgufTensorInput[]): Uint8Array {
  const file = '<memory>';
  const { header, plan, dataBytes } = planGguf(file, metadata, tensors);
  const out = new Uint8Array(header.byteLength + dataBytes);
  out.set(header, 0);
  for (const p of plan) {
    let off = header.byteLength + p.offset;
    for (const chunk of tensorBytes(file, p)) {
      out.set(chunk, off);
      off += chunk.byteLength;
    }
  }
  return out;
}
