/**
 * Pure (browser-safe) conversions from little-endian safetensors bytes to f32 / i32 arrays.
 */
import { bf16ToF32, f16ToF32 } from '@llama-moe/tensor-core';
import { leF32, leF64, leI16, leI32, leI64, leU16 } from './little-endian.js';
import type { SafetensorsDType } from './safetensors-format.js';

/** Convert little-endian raw bytes of `dtype` to f32 (F64 and I64 round to nearest f32). */
export function rawToF32(raw: Uint8Array, dtype: SafetensorsDType): Float32Array {
  switch (dtype) {
    case 'F32':
      return leF32(raw);
    case 'F16':
      return f16ToF32(leU16(raw));
    case 'BF16':
      return bf16ToF32(leU16(raw));
    case 'F64':
      return Float32Array.from(leF64(raw));
    case 'I64': {
      const src = leI64(raw);
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = Number(src[i]!);
      return out;
    }
    case 'I32':
      return Float32Array.from(leI32(raw));
    case 'I16':
      return Float32Array.from(leI16(raw));
    case 'I8':
      return Float32Array.from(new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength));
    case 'U8':
      return Float32Array.from(raw);
    case 'BOOL': {
      const out = new Float32Array(raw.byteLength);
      for (let i = 0; i < raw.byteLength; i++) out[i] = raw[i] ? 1 : 0;
      return out;
    }
  }
}

/** Convert little-endian raw bytes of an integer / bool dtype to int32 (I64 must fit), or null when out of range. */
export function rawToI32(raw: Uint8Array, dtype: SafetensorsDType): Int32Array | { outOfRange: number; at: number } {
  switch (dtype) {
    case 'I32':
      return leI32(raw);
    case 'I16':
      return Int32Array.from(leI16(raw));
    case 'I8':
      return Int32Array.from(new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength));
    case 'U8':
      return Int32Array.from(raw);
    case 'BOOL': {
      const out = new Int32Array(raw.byteLength);
      for (let i = 0; i < raw.byteLength; i++) out[i] = raw[i] ? 1 : 0;
      return out;
    }
    case 'I64': {
      const src = leI64(raw);
      const out = new Int32Array(src.length);
      for (let i = 0; i < src.length; i++) {
        const v = src[i]!;
        if (v > 2147483647n || v < -2147483648n) return { outOfRange: Number(v), at: i };
        out[i] = Number(v);
      }
      return out;
    }
    default:
      throw new TypeError(`rawToI32: ${dtype} is a float dtype`);
  }
}
