/**
 * Storage dtypes. Compute is always f32; f16 and bf16 exist as storage (safetensors) and are
 * converted with round-to-nearest-even, NaN kept NaN (quiet), ±Inf and signed zero kept.
 */
export type DType = 'float32' | 'int32';
export type StorageDType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** f32 → bf16 bits, round to nearest even. */
export function f32ToBf16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x007fffff) !== 0) {
    return ((b >>> 16) | 0x0040) & 0xffff; // NaN: keep sign and payload top, force quiet bit
  }
  const rounding = 0x7fff + ((b >>> 16) & 1);
  return ((b + rounding) >>> 16) & 0xffff;
}

export function bf16BitsToF32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

/** f32 → IEEE binary16 bits, round to nearest even, overflow to ±Inf, NaN quiet. */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x007fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x0200 | (mant >>> 13) : 0);
  // Unbiased exponent, re-biased for half (15).
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    // Subnormal half (or zero). Shift the implicit-1 mantissa right and round to nearest even.
    if (e < -10) return sign; // underflows to ±0 even after rounding
    mant |= 0x00800000;
    const shift = 14 - e; // 14..24
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && (m & 1))) m += 1;
    return sign | m; // m may carry into the exponent field: that is the correct result
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  let out = sign | (e << 10) | m;
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1))) out += 1; // carry may round up to Inf: correct
  return out;
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Bulk conversions used by the safetensors reader/writer. */
export function f32ToBf16(src: Float32Array, dst = new Uint16Array(src.length)): Uint16Array {
  // Same rounding as f32ToBf16Bits, on the bit pattern directly (no per-element float round trip).
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < u.length; i++) {
    const b = u[i]!;
    dst[i] = (b & 0x7f800000) === 0x7f800000 && (b & 0x007fffff) !== 0 ? ((b >>> 16) | 0x0040) & 0xffff : ((b + 0x7fff + ((b >>> 16) & 1)) / 65536) & 0xffff;
  }
  return dst;
}
export function bf16ToF32(src: Uint16Array, dst = new Float32Array(src.length)): Float32Array {
  const d32 = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) d32[i] = src[i]! << 16;
  return dst;
}
export function f32ToF16(src: Float32Array, dst = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) dst[i] = f32ToF16Bits(src[i]!);
  return dst;
}
const f16Table = /* lazily built 64K lookup: exact and fast */ { t: null as Float32Array | null };
export function f16ToF32(src: Uint16Array, dst = new Float32Array(src.length)): Float32Array {
  let t = f16Table.t;
  if (!t) {
    t = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) t[i] = f16BitsToF32(i);
    f16Table.t = t;
  }
  for (let i = 0; i < src.length; i++) dst[i] = t[src[i]!]!;
  return dst;
}

/** Bytes per element of each safetensors dtype. */
export const STORAGE_DTYPE_BYTES: Readonly<Record<StorageDType, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};
