import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WasmTakeCols } from './take-cols-module.js';

/**
 * The gather written out: outs[j][r, i] = src[r, parts[j][i]], on integer views (a Float32Array
 * element copied through a JS number may have a signalling NaN quietened).
 */
function reference(src: Uint16Array | Float32Array, R: number, C: number, parts: number[][]): Uint8Array[] {
  const bits = src instanceof Uint16Array ? src : new Uint32Array(src.buffer, src.byteOffset, src.length);
  return parts.map((p) => {
    const out = new (bits.constructor as new (n: number) => Uint16Array | Uint32Array)(R * p.length);
    for (let r = 0; r < R; r++) for (let i = 0; i < p.length; i++) out[r * p.length + i] = bits[r * C + p[i]!]!;
    return new Uint8Array(out.buffer);
  });
}

describe('WasmTakeCols', () => {
  it('property: bit-identical to the reference gather for 16- and 32-bit elements, any parts (empty, repeated columns), one or many row blocks', () => {
    const k = WasmTakeCols.create();
    fc.assert(fc.property(
      fc.oneof(fc.record({ R: fc.integer({ min: 1, max: 12 }), C: fc.integer({ min: 1, max: 50 }) }), fc.record({ R: fc.integer({ min: 100, max: 140 }), C: fc.integer({ min: 4000, max: 5000 }) })),
      fc.array(fc.array(fc.nat(), { maxLength: 60 }), { minLength: 1, maxLength: 5 }),
      fc.integer({ min: 0, max: 2 ** 30 }),
      ({ R, C }, rawParts, seed) => {
        const parts = rawParts.map((p) => p.map((c) => c % C));
        const u16 = Uint16Array.from({ length: R * C }, (_, i) => (i * 2654435761 + seed) >>> 16);
        const f32 = new Float32Array(Uint32Array.from({ length: R * C }, (_, i) => (i * 2246822519 + seed) >>> 0).buffer);
        for (const src of [u16, f32]) {
          const got = k.run(src, R, C, parts);
          const want = reference(src, R, C, parts);
          got.forEach((g, j) => expect(Buffer.compare(Buffer.from(g.buffer, g.byteOffset, g.byteLength), Buffer.from(want[j]!))).toBe(0));
        }
      },
    ), { numRuns: 40 });
  });

  it('fills given outputs in place and rejects out-of-range columns and short sources', () => {
    const k = WasmTakeCols.create();
    const src = Uint16Array.of(1, 2, 3, 4, 5, 6);
    const into = [new Uint16Array(4)];
    expect(k.run(src, 2, 3, [[2, 0]], into)[0]).toBe(into[0]);
    expect(Array.from(into[0]!)).toEqual([3, 1, 6, 4]);
    expect(() => k.run(src, 2, 3, [[3]])).toThrow(/part 0 column 3 is outside \[0, 3\)/);
    expect(() => k.run(src, 3, 3, [[0]])).toThrow(/source holds 6 elements/);
  });
});
