import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastBackend, runKernel, withBackend, type TakeColsArgs } from '../registry.js';
import { takeColsCpu } from './cpu/take-cols.js';
import { disposeWasmBackend, initWasmBackend } from './wasm/index.js';

/** The gather written out on integer views: outs[j][r, i] = src[r, parts[j][i]]. */
function reference(src: Uint16Array | Float32Array, R: number, C: number, parts: number[][]): Uint8Array[] {
  const bits = src instanceof Uint16Array ? src : new Uint32Array(src.buffer, src.byteOffset, src.length);
  return parts.map((p) => {
    const out = new (bits.constructor as new (n: number) => Uint16Array | Uint32Array)(R * p.length);
    for (let r = 0; r < R; r++) for (let i = 0; i < p.length; i++) out[r * p.length + i] = bits[r * C + p[i]!]!;
    return new Uint8Array(out.buffer);
  });
}

const bytes = (a: Float32Array | Uint16Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function run(backend: 'cpu' | 'wasm', src: Float32Array | Uint16Array, R: number, C: number, parts: number[][]): (Float32Array | Uint16Array)[] {
  const Ctor = src.constructor as new (n: number) => Float32Array | Uint16Array;
  const outs = parts.map((p) => new Ctor(R * p.length));
  const args: TakeColsArgs = { src, rows: R, cols: C, parts, outs };
  withBackend(backend, () => runKernel('takeCols', args));
  expect(lastBackend('takeCols')).toBe(backend);
  return outs;
}

describe('takeCols kernel (registry): cpu oracle and wasm', () => {
  beforeAll(async () => {
    expect((await initWasmBackend({ threads: 1 })).ok).toBe(true);
  });
  afterAll(() => disposeWasmBackend());

  it('property: both backends are bit-identical to the reference gather (16- and 32-bit elements with NaN payloads, empty and repeated columns, one or many row blocks)', () => {
    fc.assert(fc.property(
      fc.oneof(fc.record({ R: fc.integer({ min: 1, max: 12 }), C: fc.integer({ min: 1, max: 50 }) }), fc.record({ R: fc.integer({ min: 100, max: 140 }), C: fc.integer({ min: 4000, max: 5000 }) })),
      fc.array(fc.array(fc.nat(), { maxLength: 60 }), { minLength: 1, maxLength: 5 }),
      fc.integer({ min: 0, max: 2 ** 30 }),
      ({ R, C }, rawParts, seed) => {
        const parts = rawParts.map((p) => p.map((c) => c % C));
        const u16 = Uint16Array.from({ length: R * C }, (_, i) => (i * 2654435761 + seed) >>> 16);
        // every bit pattern, signalling NaNs included (0x7f800001..0x7fbfffff)
        const f32 = new Float32Array(Uint32Array.from({ length: R * C }, (_, i) => (i * 2246822519 + seed) >>> 0).buffer);
        for (const src of [u16, f32]) {
          const want = reference(src, R, C, parts);
          for (const backend of ['cpu', 'wasm'] as const) {
            run(backend, src, R, C, parts).forEach((g, j) => expect(Buffer.compare(bytes(g), Buffer.from(want[j]!))).toBe(0));
          }
        }
      },
    ), { numRuns: 30 });
  });

  it('both backends reject out-of-range columns and short sources with the same message', () => {
    const src = Uint16Array.of(1, 2, 3, 4, 5, 6);
    for (const backend of ['cpu', 'wasm'] as const) {
      expect(() => run(backend, src, 2, 3, [[3]])).toThrow(/^takeCols: part 0 column 3 is outside \[0, 3\)$/);
      expect(() => run(backend, src, 2, 3, [[0, 1.5]])).toThrow(/part 0 column 1.5 is outside/);
      expect(() => run(backend, src, 3, 3, [[0]])).toThrow(/^takeCols: source holds 6 elements, \[3, 3\] needs 9$/);
    }
    const outs = [new Uint16Array(4)];
    takeColsCpu({ src, rows: 2, cols: 3, parts: [[2, 0]], outs });
    expect(Array.from(outs[0]!)).toEqual([3, 1, 6, 4]);
  });
});
