import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bf16BitsToF32, bf16ToF32, f16BitsToF32, f16ToF32, f32ToBf16, f32ToBf16Bits, f32ToF16, f32ToF16Bits } from './dtype.js';

const f32 = (x: number) => Math.fround(x);

describe('f16 / bf16 conversions', () => {
  it('every f16 bit pattern round-trips exactly (NaN stays NaN)', () => {
    for (let h = 0; h < 65536; h++) {
      const v = f16BitsToF32(h);
      if (Number.isNaN(v)) { expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(v)))).toBe(true); continue; }
      expect(f32ToF16Bits(v)).toBe(h);
    }
  });
  it('every bf16 bit pattern round-trips exactly (NaN stays NaN)', () => {
    for (let h = 0; h < 65536; h++) {
      const v = bf16BitsToF32(h);
      if (Number.isNaN(v)) { expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(v)))).toBe(true); continue; }
      expect(f32ToBf16Bits(v)).toBe(h);
    }
  });
  it('rounds to nearest, ties to even (bf16)', () => {
    // 1 + 2^-8 is exactly halfway between bf16 1 and 1 + 2^-7: ties to even → 1.
    expect(bf16BitsToF32(f32ToBf16Bits(1 + 2 ** -8))).toBe(1);
    // 1 + 3·2^-8 is halfway between 1 + 2^-7 (odd mantissa) and 1 + 2^-6 → 1 + 2^-6.
    expect(bf16BitsToF32(f32ToBf16Bits(1 + 3 * 2 ** -8))).toBe(1 + 2 ** -6);
    expect(bf16BitsToF32(f32ToBf16Bits(f32(1 + 2 ** -8 + 2 ** -20)))).toBe(1 + 2 ** -7);
  });
  it('rounds to nearest, ties to even (f16), overflow to Inf, subnormals', () => {
    expect(f16BitsToF32(f32ToF16Bits(1 + 2 ** -11))).toBe(1);
    expect(f16BitsToF32(f32ToF16Bits(1 + 3 * 2 ** -11))).toBe(1 + 2 ** -9);
    expect(f16BitsToF32(f32ToF16Bits(65520))).toBe(Infinity); // halfway to 2^16 rounds up
    expect(f16BitsToF32(f32ToF16Bits(65519))).toBe(65504);
    expect(f16BitsToF32(f32ToF16Bits(2 ** -24))).toBe(2 ** -24);
    expect(f16BitsToF32(f32ToF16Bits(2 ** -25))).toBe(0); // tie → even (0)
    expect(f16BitsToF32(f32ToF16Bits(f32(2 ** -25 * 1.5)))).toBe(2 ** -24);
    expect(Object.is(f16BitsToF32(f32ToF16Bits(-0)), -0)).toBe(true);
  });
  it('matches an independent f64 reference on random f32 values (property)', () => {
    fc.assert(fc.property(fc.float({ noNaN: true, noDefaultInfinity: true, min: -60000, max: 60000 }), (x) => {
      const v = f32(x);
      // Reference: nearest representable half by exhaustive neighbour comparison.
      const h = f32ToF16Bits(v);
      const got = f16BitsToF32(h);
      const up = f16BitsToF32((h & 0x8000) | ((h & 0x7fff) + 1));
      const down = (h & 0x7fff) === 0 ? -f16BitsToF32(1) : f16BitsToF32((h & 0x8000) | ((h & 0x7fff) - 1));
      expect(Math.abs(got - v)).toBeLessThanOrEqual(Math.abs(up - v));
      expect(Math.abs(got - v)).toBeLessThanOrEqual(Math.abs(down - v) + 0);
    }), { numRuns: 2000 });
  });
  it('bulk f32 → bf16 equals the scalar conversion on random bit patterns (NaN, Inf, subnormals included)', () => {
    const u = new Uint32Array(200_000);
    let x = 12345;
    for (let i = 0; i < u.length; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; u[i] = (x ^ (x << 7)) >>> 0; }
    u.set([0x7f800000, 0xff800000, 0x7fc00000, 0xffffffff, 0x7f7fffff, 0xff7fffff, 0x00000001, 0x807fffff, 0x3f808000, 0x3f818000], 0);
    const f = new Float32Array(u.buffer);
    const bulk = f32ToBf16(f);
    for (let i = 0; i < f.length; i++) if (bulk[i] !== f32ToBf16Bits(f[i]!)) throw new Error(`bit pattern ${u[i]!.toString(16)}: bulk ${bulk[i]} scalar ${f32ToBf16Bits(f[i]!)}`);
  });
  it('bulk converters agree with the scalar ones', () => {
    const src = new Float32Array([0, -0, 1.5, -2.75, 3.14159, 1e-6, 65504, NaN, Infinity, -Infinity]);
    const b = bf16ToF32(f32ToBf16(src));
    const h = f16ToF32(f32ToF16(src));
    src.forEach((v, i) => {
      expect(Object.is(b[i], bf16BitsToF32(f32ToBf16Bits(v)))).toBe(true);
      expect(Object.is(h[i], f16BitsToF32(f32ToF16Bits(v)))).toBe(true);
    });
  });
});
