/**
 * NumPy .npy files (format 1.0; 2.0 / 3.0 read, and written when the header needs it), so tensors
 * can be compared against PyTorch / NumPy reference dumps. The writer produces the same bytes as
 * `numpy.save`: magic `\x93NUMPY`, version, header length, the dict
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`, numpy's 21-digit growth room, space
 * padding so the data starts at a multiple of 64, a newline, then little-endian C-order data.
 */
import * as fs from 'node:fs';
import { NpyError } from './errors.js';
import { atomicWriteFile } from './atomic.js';
import { leF32, leF64, leI32, leI64, toLeBytes } from './little-endian.js';

export type NpyDescr = '<f4' | '<f8' | '<i4' | '<i8';
export type NpyData = Float32Array | Float64Array | Int32Array | BigInt64Array;

export interface NpyArray<T extends NpyData = NpyData> {
  descr: NpyDescr;
  shape: number[];
  /** [prod(shape)] C-order. */
  data: T;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ARRAY_ALIGN = 64;
/** numpy leaves room to grow the first axis in place to 21 digits. */
const GROWTH_AXIS_MAX_DIGITS = 21;
const ITEM: Record<NpyDescr, number> = { '<f4': 4, '<f8': 8, '<i4': 4, '<i8': 8 };

function descrOf(data: NpyData, file: string): NpyDescr {
  if (data instanceof Float32Array) return '<f4';
  if (data instanceof Float64Array) return '<f8';
  if (data instanceof Int32Array) return '<i4';
  if (data instanceof BigInt64Array) return '<i8';
  throw new NpyError(file, `cannot write ${Object.prototype.toString.call(data)}; use Float32Array, Float64Array, Int32Array or BigInt64Array`);
}

/** Python's repr of a shape tuple: `()`, `(3,)`, `(2, 3)`. */
function shapeRepr(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/** The header bytes (magic .. newline) numpy.save writes for this dtype and shape. */
export function npyHeader(descr: NpyDescr, shape: readonly number[]): Uint8Array {
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeRepr(shape)}, }`;
  if (shape.length > 0) dict += ' '.repeat(GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length);
  const hlen = dict.length + 1; // + '\n'
  for (const [major, lenBytes] of [[1, 2], [2, 4]] as const) {
    const prefix = MAGIC.length + 2 + lenBytes;
    const padlen = ARRAY_ALIGN - ((prefix + hlen) % ARRAY_ALIGN);
    const total = hlen + padlen;
    if (lenBytes === 2 && total >= 65536) continue; // version 1.0 cannot hold it
    const out = new Uint8Array(prefix + total);
    out.set(MAGIC, 0);
    out[6] = major;
    out[7] = 0;
    const dv = new DataView(out.buffer);
    if (lenBytes === 2) dv.setUint16(8, total, true);
    else dv.setUint32(8, total, true);
    for (let i = 0; i < dict.length; i++) out[prefix + i] = dict.charCodeAt(i);
    out.fill(0x20, prefix + dict.length, out.length - 1);
    out[out.length - 1] = 0x0a;
    return out;
  }
  throw new RangeError('unreachable: npy header longer than 4 GB');
}

/** Write `data` with `shape` atomically as .npy. */
export function writeNpy(path: string, data: NpyData, shape: readonly number[] = [data.length]): void {
  const descr = descrOf(data, path);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new NpyError(path, `shape ${JSON.stringify(shape)} must be non-negative integers`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new NpyError(path, `shape (${shape.join(', ')}) holds ${n} elements but the data has ${data.length}`);
  const header = npyHeader(descr, shape);
  const body = toLeBytes(data);
  const out = new Uint8Array(header.byteLength + body.byteLength);
  out.set(header, 0);
  out.set(body, header.byteLength);
  atomicWriteFile(path, out);
}

/** Parse the Python-literal header dict numpy writes. */
function parseHeaderDict(text: string, file: string): { descr: string; fortran: boolean; shape: number[] } {
  const t = text.trim();
  if (!t.startsWith('{') || !t.endsWith('}')) throw new NpyError(file, `header is not a dict: ${JSON.stringify(t.slice(0, 60))}`);
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(t)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(t)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(t)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new NpyError(file, `header lacks descr / fortran_order / shape: ${JSON.stringify(t.slice(0, 80))}`);
  }
  const parts = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const shape = parts.map((s) => {
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) throw new NpyError(file, `shape entry '${s}' is not a non-negative integer`);
    return Number(s);
  });
  return { descr, fortran: fortran === 'True', shape };
}

/** Read a little-endian C-order .npy of f4, f8, i4 or i8. */
export function readNpy(path: string): NpyArray {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(fs.readFileSync(path));
  } catch (e) {
    throw new NpyError(path, `cannot read: ${(e as Error).message}`);
  }
  if (bytes.byteLength < 10 || MAGIC.some((m, i) => bytes[i] !== m)) throw new NpyError(path, 'not a .npy file (bad magic)');
  const major = bytes[6]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let start: number;
  let hlen: number;
  if (major === 1) {
    hlen = dv.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.byteLength < 12) throw new NpyError(path, 'truncated header');
    hlen = dv.getUint32(8, true);
    start = 12;
  } else {
    throw new NpyError(path, `unsupported .npy version ${major}.${bytes[7]}`);
  }
  if (start + hlen > bytes.byteLength) throw new NpyError(path, `header length ${hlen} runs past the end of the file`);
  const headerBytes = bytes.subarray(start, start + hlen);
  const text = major === 3 ? new TextDecoder().decode(headerBytes) : String.fromCharCode(...headerBytes);
  const { descr, fortran, shape } = parseHeaderDict(text, path);
  if (fortran) throw new NpyError(path, 'fortran_order True is not supported; save with np.ascontiguousarray');
  if (!Object.prototype.hasOwnProperty.call(ITEM, descr)) {
    throw new NpyError(path, `dtype '${descr}' is not supported (expected little-endian '<f4', '<f8', '<i4' or '<i8')`);
  }
  const d = descr as NpyDescr;
  let n = 1;
  for (const s of shape) n *= s;
  const dataStart = start + hlen;
  const need = n * ITEM[d];
  if (!Number.isSafeInteger(need) || bytes.byteLength - dataStart !== need) {
    throw new NpyError(path, `shape (${shape.join(', ')}) of ${descr} needs ${need} data bytes but the file has ${bytes.byteLength - dataStart}`);
  }
  // A copy into a fresh, aligned buffer (the data offset of a foreign file need not be aligned).
  const raw = bytes.slice(dataStart);
  const data = d === '<f4' ? leF32(raw) : d === '<f8' ? leF64(raw) : d === '<i4' ? leI32(raw) : leI64(raw);
  return { descr: d, shape, data };
}

/** readNpy, converted to Float32Array (f8 and i8 rounded to nearest f32). */
export function readNpyF32(path: string): { shape: number[]; data: Float32Array } {
  const a = readNpy(path);
  if (a.data instanceof Float32Array) return { shape: a.shape, data: a.data };
  if (a.data instanceof BigInt64Array) {
    const out = new Float32Array(a.data.length);
    for (let i = 0; i < out.length; i++) out[i] = Number(a.data[i]!);
    return { shape: a.shape, data: out };
  }
  return { shape: a.shape, data: Float32Array.from(a.data) };
}
