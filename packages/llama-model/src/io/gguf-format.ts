/**
 * GGUF v3 (llama.cpp's model file, https://github.com/ggml-org/ggml/blob/master/docs/gguf.md):
 *
 *   u32 magic "GGUF" | u32 version 3 | u64 tensor_count | u64 metadata_kv_count
 *   metadata: (gguf_string key, u32 value_type, value) * kv_count
 *   tensor infos: (gguf_string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset) * tensor_count
 *   padding to `general.alignment` (default 32), then the data section; every tensor's offset
 *   (relative to the data section) is a multiple of the alignment.
 *
 * Everything little-endian; a gguf_string is a u64 byte length then UTF-8 bytes (no NUL). `ne[0]`
 * is the fastest-varying dimension, so a row-major (PyTorch) shape `[out, in]` is `ne = [in, out]`.
 * This module holds the shared tables, the element codecs (F32 / F16 / BF16 / Q8_0) and the
 * metadata value model; gguf-writer.ts and gguf-reader.ts do the I/O.
 */
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, f32ToF16Bits } from '@llama-moe/tensor-core';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** llama.cpp's GGML_MAX_DIMS. */
export const GGUF_MAX_DIMS = 4;

/** gguf_type (the metadata value types), verbatim from ggml's gguf.h. */
export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;
export type GgufValueTypeName = keyof typeof GgufValueType;
export type GgufScalarTypeName = Exclude<GgufValueTypeName, 'ARRAY'>;
export const GGUF_VALUE_TYPE_NAMES: readonly GgufValueTypeName[] = Object.keys(GgufValueType) as GgufValueTypeName[];

/** Byte size of a fixed-size scalar value type (STRING and ARRAY are variable). */
export const GGUF_SCALAR_BYTES: Readonly<Record<Exclude<GgufScalarTypeName, 'STRING'>, number>> = {
  UINT8: 1,
  INT8: 1,
  UINT16: 2,
  INT16: 2,
  UINT32: 4,
  INT32: 4,
  FLOAT32: 4,
  BOOL: 1,
  UINT64: 8,
  INT64: 8,
  FLOAT64: 8,
};

/** The ggml tensor types this project writes and reads, with their ggml_type ids. */
export const GGML_TYPES = { F32: 0, F16: 1, Q8_0: 8, BF16: 30 } as const;
export type GgmlTypeName = keyof typeof GGML_TYPES;
export const GGML_TYPE_NAMES: readonly GgmlTypeName[] = ['F32', 'F16', 'BF16', 'Q8_0'];
/** Every ggml_type id up to MXFP4 (39), by name, to name a type we refuse. */
const GGML_TYPE_IDS_KNOWN: Readonly<Record<number, string>> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K', 13: 'Q5_K',
  14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS',
  24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M', 30: 'BF16', 34: 'TQ1_0', 35: 'TQ2_0', 39: 'MXFP4',
};
export function ggmlTypeLabel(id: number): string {
  return GGML_TYPE_IDS_KNOWN[id] ?? `ggml_type ${id}`;
}
export function ggmlTypeName(id: number): GgmlTypeName | null {
  for (const n of GGML_TYPE_NAMES) if (GGML_TYPES[n] === id) return n;
  return null;
}

/** Elements per block and bytes per block (Q8_0: an f16 scale then 32 int8 quants). */
export const GGML_BLOCK: Readonly<Record<GgmlTypeName, { elements: number; bytes: number }>> = {
  F32: { elements: 1, bytes: 4 },
  F16: { elements: 1, bytes: 2 },
  BF16: { elements: 1, bytes: 2 },
  Q8_0: { elements: 32, bytes: 34 },
};

/** llama.cpp's `general.file_type` (enum llama_ftype) for a file whose matrices are all `t`. */
export const LLAMA_FTYPE: Readonly<Record<GgmlTypeName, number>> = { F32: 0, F16: 1, Q8_0: 7, BF16: 32 };

/**
 * Byte length of a tensor of `type` with dims `ne` (ne[0] fastest), or a string saying why not
 * (ne[0] not a multiple of the block size, or a size beyond exact JS integers).
 */
export function ggmlByteLength(type: GgmlTypeName, ne: readonly number[]): number | string {
  const blk = GGML_BLOCK[type];
  const ne0 = ne.length === 0 ? 1 : ne[0]!;
  if (ne0 % blk.elements !== 0) return `${type} needs ne[0] = ${ne0} to be a multiple of ${blk.elements}`;
  let n = (ne0 / blk.elements) * blk.bytes;
  for (let i = 1; i < ne.length; i++) {
    n *= ne[i]!;
    if (!Number.isSafeInteger(n)) return `${type} ${fmtNe(ne)} is too large`;
  }
  if (!Number.isSafeInteger(n)) return `${type} ${fmtNe(ne)} is too large`;
  return n;
}

export function fmtNe(ne: readonly number[]): string {
  return `ne [${ne.join(', ')}]`;
}

/** Round up to a multiple of `align`. */
export function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

// ---------------------------------------------------------------------------------------------
// Metadata values
// ---------------------------------------------------------------------------------------------

/** A typed metadata value. Arrays of numbers use typed arrays or plain arrays; 64-bit integers are bigint. */
export type GgufValue =
  | { type: 'UINT8' | 'INT8' | 'UINT16' | 'INT16' | 'UINT32' | 'INT32' | 'FLOAT32' | 'FLOAT64'; value: number }
  | { type: 'UINT64' | 'INT64'; value: bigint }
  | { type: 'BOOL'; value: boolean }
  | { type: 'STRING'; value: string }
  | { type: 'ARRAY'; itemType: 'STRING'; value: readonly string[] }
  | { type: 'ARRAY'; itemType: 'BOOL'; value: readonly boolean[] }
  | { type: 'ARRAY'; itemType: 'UINT64' | 'INT64'; value: readonly bigint[] }
  | { type: 'ARRAY'; itemType: 'UINT8' | 'INT8' | 'UINT16' | 'INT16' | 'UINT32' | 'INT32' | 'FLOAT32' | 'FLOAT64'; value: ArrayLike<number> };

/** Constructors for metadata values (`gguf.u32(4096)`, `gguf.strings(tokens)`, ...). */
export const gguf = {
  u8: (value: number): GgufValue => ({ type: 'UINT8', value }),
  i32: (value: number): GgufValue => ({ type: 'INT32', value }),
  u32: (value: number): GgufValue => ({ type: 'UINT32', value }),
  f32: (value: number): GgufValue => ({ type: 'FLOAT32', value }),
  u64: (value: bigint | number): GgufValue => ({ type: 'UINT64', value: BigInt(value) }),
  bool: (value: boolean): GgufValue => ({ type: 'BOOL', value }),
  str: (value: string): GgufValue => ({ type: 'STRING', value }),
  strings: (value: readonly string[]): GgufValue => ({ type: 'ARRAY', itemType: 'STRING', value }),
  f32s: (value: ArrayLike<number>): GgufValue => ({ type: 'ARRAY', itemType: 'FLOAT32', value }),
  i32s: (value: ArrayLike<number>): GgufValue => ({ type: 'ARRAY', itemType: 'INT32', value }),
};

/** A metadata value as plain JS (for inspect / JSON): numbers, bigints as decimal strings when unsafe. */
export function ggufValueToJs(v: GgufValue): unknown {
  const one = (x: unknown): unknown => (typeof x === 'bigint' ? (x >= BigInt(Number.MIN_SAFE_INTEGER) && x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x.toString()) : x);
  if (v.type === 'ARRAY') return Array.from(v.value as ArrayLike<unknown>, one);
  return one(v.value);
}

// ---------------------------------------------------------------------------------------------
// Element codecs
// ---------------------------------------------------------------------------------------------

/** roundf: half away from zero (C's roundf, ggml's quantize_row_q8_0_ref). */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

const f32Scratch = new Float32Array(1);
const fround = (x: number): number => {
  f32Scratch[0] = x;
  return f32Scratch[0];
};

/**
 * Quantize `src` (length a multiple of 32) to Q8_0 blocks exactly as ggml's quantize_row_q8_0_ref:
 * d = amax / 127 (f32), id = 1/d, q = roundf(x * id), d stored as f16.
 */
export function quantizeQ8_0(src: Float32Array): Uint8Array {
  if (src.length % 32 !== 0) throw new RangeError(`quantizeQ8_0: ${src.length} elements is not a multiple of 32`);
  const blocks = src.length / 32;
  const out = new Uint8Array(blocks * 34);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    const base = b * 32;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(src[base + j]!));
    const d = fround(amax / 127);
    const id = d !== 0 ? fround(1 / d) : 0;
    const o = b * 34;
    dv.setUint16(o, f32ToF16Bits(d), true);
    for (let j = 0; j < 32; j++) dv.setInt8(o + 2 + j, roundHalfAway(fround(src[base + j]! * id)));
  }
  return out;
}

/** Dequantize Q8_0 blocks: x = d * q. */
export function dequantizeQ8_0(raw: Uint8Array, dst = new Float32Array((raw.byteLength / 34) * 32)): Float32Array {
  const blocks = raw.byteLength / 34;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const scale = new Uint16Array(1);
  const d32 = new Float32Array(1);
  for (let b = 0; b < blocks; b++) {
    const o = b * 34;
    scale[0] = dv.getUint16(o, true);
    f16ToF32(scale, d32);
    const d = d32[0]!;
    for (let j = 0; j < 32; j++) dst[b * 32 + j] = fround(d * dv.getInt8(o + 2 + j));
  }
  return dst;
}

/** Little-endian bytes of `src` as `type` (F16 / BF16 round to nearest even). */
export function encodeGgmlElements(src: Float32Array, type: GgmlTypeName): Uint8Array {
  switch (type) {
    case 'F32':
      return new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
    case 'F16': {
      const u = f32ToF16(src);
      return new Uint8Array(u.buffer, u.byteOffset, u.byteLength);
    }
    case 'BF16': {
      const u = f32ToBf16(src);
      return new Uint8Array(u.buffer, u.byteOffset, u.byteLength);
    }
    case 'Q8_0':
      return quantizeQ8_0(src);
  }
}

/** f32 values of raw little-endian `type` bytes (Q8_0 dequantized). */
export function decodeGgmlElements(raw: Uint8Array, type: GgmlTypeName): Float32Array {
  const aligned = raw.byteOffset % 4 === 0 ? raw : raw.slice();
  switch (type) {
    case 'F32':
      return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
    case 'F16':
      return f16ToF32(new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2));
    case 'BF16':
      return bf16ToF32(new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2));
    case 'Q8_0':
      return dequantizeQ8_0(raw);
  }
}
