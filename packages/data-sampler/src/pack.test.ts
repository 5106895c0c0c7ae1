import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { DataError } from './errors.js';
import { Packer, encodeDocument, packDocuments } from './pack.js';
import { tok } from '../test/support/helpers.js';

const docs = fc.array(fc.string({ maxLength: 40 }), { minLength: 0, maxLength: 20 });

function stream(texts: string[], addEos: boolean): number[] {
  const out: number[] = [];
  for (const t of texts) out.push(...encodeDocument(tok, t, { addEos }));
  return out;
}

describe('pack', () => {
  test('every policy: blocks are consecutive slices of the BOS-joined token stream', () => {
    fc.assert(
      fc.property(docs, fc.integer({ min: 1, max: 33 }), fc.boolean(), fc.constantFrom('drop', 'pad', 'keep') as fc.Arbitrary<'drop' | 'pad' | 'keep'>, (texts, T, addEos, remainder) => {
        const s = stream(texts, addEos);
        const blocks = packDocuments(tok, texts, { seqLen: T, addEos, remainder, padId: 0 });
        const full = Math.floor(s.length / T);
        const rem = s.length % T;
        expect(blocks.length).toBe(full + (rem > 0 && remainder !== 'drop' ? 1 : 0));
        for (let i = 0; i < full; i++) {
          expect(Array.from(blocks[i].inputIds)).toEqual(s.slice(i * T, (i + 1) * T));
          expect(blocks[i].lossMask).toBeUndefined();
        }
        if (rem > 0 && remainder === 'keep') expect(Array.from(blocks[full].inputIds)).toEqual(s.slice(full * T));
        if (rem > 0 && remainder === 'pad') {
          const b = blocks[full];
          expect(b.inputIds.length).toBe(T);
          expect(Array.from(b.inputIds)).toEqual([...s.slice(full * T), ...new Array(T - rem).fill(0)]);
          expect(Array.from(b.lossMask!)).toEqual([...new Array(rem).fill(1), ...new Array(T - rem).fill(0)]);
        }
      }),
    );
  });

  test('BOS starts every document, EOS optional', () => {
    expect(Array.from(encodeDocument(tok, 'ab', {}))).toEqual([1, 97 + 3, 98 + 3]);
    expect(Array.from(encodeDocument(tok, 'ab', { addEos: true }))).toEqual([1, 100, 101, 2]);
    expect(Array.from(encodeDocument(tok, '', { addBos: false }))).toEqual([]);
  });

  test('a Packer restored from its carry continues identically', () => {
    fc.assert(
      fc.property(docs, fc.integer({ min: 1, max: 17 }), fc.nat(), (texts, T, cutAt) => {
        const ids = texts.map((t) => encodeDocument(tok, t, {}));
        const cut = ids.length === 0 ? 0 : cutAt % (ids.length + 1);
        const a = new Packer({ seqLen: T, remainder: 'keep' });
        const whole = [...ids.flatMap((d) => a.push(d)), ...a.flush()].map((b) => Array.from(b.inputIds));
        const b1 = new Packer({ seqLen: T, remainder: 'keep' });
        const first = ids.slice(0, cut).flatMap((d) => b1.push(d));
        const b2 = new Packer({ seqLen: T, remainder: 'keep' }, Array.from(b1.carry()));
        const second = [...ids.slice(cut).flatMap((d) => b2.push(d)), ...b2.flush()];
        expect([...first, ...second].map((b) => Array.from(b.inputIds))).toEqual(whole);
      }),
    );
  });

  test('bad options are named', () => {
    expect(() => packDocuments(tok, ['a'], { seqLen: 0 })).toThrow(/seqLen: must be a positive integer/);
    expect(() => packDocuments(tok, ['a'], { seqLen: 4, remainder: 'trim' as never })).toThrow(DataError);
  });
});
