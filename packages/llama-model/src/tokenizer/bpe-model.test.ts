import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { BpeModel, byteTokenName } from './bpe-model.js';
import { TokenizerError } from './errors.js';
import type { BpeModelJson } from './tokenizer-json.js';

/**
 * Textbook BPE by merge ranks: repeatedly find the lowest-ranked adjacent pair (leftmost on ties),
 * merge that one occurrence, rescan. O(n^2) but obviously right.
 */
function naiveBpe(chars: string[], ranks: Map<string, number>): string[] {
  const s = [...chars];
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < s.length; i++) {
      const r = ranks.get(`${s[i]} ${s[i + 1]}`);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        best = i;
      }
    }
    if (best < 0) return s;
    s.splice(best, 2, s[best] + s[best + 1]);
  }
}

/** A random but consistent merge table over a tiny alphabet: each merge joins two existing tokens. */
const mergeTable = fc
  .array(fc.tuple(fc.nat(), fc.nat()), { minLength: 0, maxLength: 25 })
  .map((picks) => {
    const tokens = ['a', 'b', 'c', 'd'];
    const merges: string[] = [];
    const seen = new Set<string>();
    for (const [i, j] of picks) {
      const l = tokens[i % tokens.length];
      const r = tokens[j % tokens.length];
      const key = `${l} ${r}`;
      if (seen.has(key)) continue;
      seen.add(key);
      merges.push(key);
      if (!tokens.includes(l + r)) tokens.push(l + r);
    }
    return { tokens, merges };
  });

function modelJson(tokens: string[], merges: string[], extra: Partial<BpeModelJson> = {}): BpeModelJson {
  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => (vocab[t] = i));
  return {
    type: 'BPE',
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: false,
    byte_fallback: false,
    vocab,
    merges,
    ...extra,
  };
}

describe('BpeModel', () => {
  test('matches textbook rank-order BPE on random merge tables and words', () => {
    fc.assert(
      fc.property(mergeTable, fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { minLength: 1, maxLength: 40 }), ({ tokens, merges }, chars) => {
        const model = new BpeModel(modelJson(tokens, merges), 'test.json');
        const ranks = new Map(merges.map((m, i) => [m, i]));
        const expected = naiveBpe(chars, ranks).map((t) => tokens.indexOf(t));
        expect(model.encodeWord(chars.join(''))).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  test('byte fallback spells unknown characters as <0xXX> tokens; without it they become one fused unk', () => {
    const bytes = Array.from({ length: 256 }, (_, b) => byteTokenName(b));
    const tokens = ['<unk>', ...bytes, 'a', 'b', 'ab'];
    const withFallback = new BpeModel(modelJson(tokens, ['a b'], { unk_token: '<unk>', byte_fallback: true }), 't.json');
    // "é" is C3 A9; "€" is E2 82 AC; byte token ids are 1 + byte.
    expect(withFallback.encodeWord('abé€a')).toEqual([259, 1 + 0xc3, 1 + 0xa9, 1 + 0xe2, 1 + 0x82, 1 + 0xac, 257]);
    const noFallback = new BpeModel(modelJson(tokens, ['a b'], { unk_token: '<unk>', fuse_unk: true }), 't.json');
    expect(noFallback.encodeWord('abé€a')).toEqual([259, 0, 257]);
    const unfused = new BpeModel(modelJson(tokens, ['a b'], { unk_token: '<unk>', fuse_unk: false }), 't.json');
    expect(unfused.encodeWord('abé€a')).toEqual([259, 0, 0, 257]);
  });

  test('ignore_merges takes a whole-word vocab hit before merging', () => {
    // "abc" is in the vocab but no merge chain builds it.
    const tokens = ['a', 'b', 'c', 'ab', 'abc'];
    expect(new BpeModel(modelJson(tokens, ['a b']), 't').encodeWord('abc')).toEqual([3, 2]);
    expect(new BpeModel(modelJson(tokens, ['a b'], { ignore_merges: true }), 't').encodeWord('abc')).toEqual([4]);
  });

  test('accepts merges as [left, right] pairs too', () => {
    const tokens = ['a', 'b', 'ab'];
    const m = new BpeModel(modelJson(tokens, [['a', 'b']] as unknown as string[]), 't');
    expect(m.encodeWord('abab')).toEqual([2, 2]);
  });

  test('a merge whose parts or result are missing from the vocab names the merge and the file', () => {
    expect(() => new BpeModel(modelJson(['a', 'b'], ['a b']), 'dir/tokenizer.json')).toThrow(TokenizerError);
    expect(() => new BpeModel(modelJson(['a', 'b'], ['a b']), 'dir/tokenizer.json')).toThrow(/dir\/tokenizer\.json: model\.merges\[0\].*"ab" is not in model\.vocab/);
    expect(() => new BpeModel(modelJson(['a', 'b', 'ab'], ['a b c']), 'x.json')).toThrow(/merges\[0\]/);
  });

  test('a character with no token, no byte fallback and no unk_token is an error, not a silent drop', () => {
    const m = new BpeModel(modelJson(['a'], []), 'x.json');
    expect(() => m.encodeWord('ab')).toThrow(/x\.json: character "b"/);
  });
});
