import * as tokenizersJs from '@huggingface/tokenizers';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { BYTE_LEVEL_ORDER, BYTE_TO_CHAR, fromByteLevel, LLAMA3_SPLIT_PATTERN, onigurumaToJsRegex, splitIsolated, toByteLevel } from './byte-level.js';

// Tokenizers.js's .d.ts re-exports are extensionless, so NodeNext typing does not see this class.
const { SplitPreTokenizer } = tokenizersJs as unknown as {
  SplitPreTokenizer: new (config: object) => { pre_tokenize_text(s: string): string[] };
};

describe('byte-level alphabet', () => {
  test('is a bijection of the 256 bytes onto printable characters, GPT-2 spelling', () => {
    expect(new Set(BYTE_TO_CHAR).size).toBe(256);
    expect(new Set(BYTE_LEVEL_ORDER).size).toBe(256);
    expect([BYTE_TO_CHAR[0x20], BYTE_TO_CHAR[0x0a], BYTE_TO_CHAR[0x00], BYTE_TO_CHAR[0x41], BYTE_TO_CHAR[0xad]]).toEqual(['Ġ', 'Ċ', 'Ā', 'A', 'Ń']);
    for (const c of BYTE_TO_CHAR) expect(c).toMatch(/^[^\s\p{Cc}]$/u);
  });

  test('toByteLevel / fromByteLevel round-trip UTF-8', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(new TextDecoder().decode(fromByteLevel(toByteLevel(s))!)).toBe(s);
      }),
    );
    expect(fromByteLevel('a b')).toBeNull(); // ' ' is not in the alphabet (it is spelled 'Ġ')
  });
});

describe('Llama-3 split regex', () => {
  const lib = new SplitPreTokenizer({ type: 'Split', pattern: { Regex: LLAMA3_SPLIT_PATTERN }, behavior: 'Isolated', invert: false });
  const ours = onigurumaToJsRegex(LLAMA3_SPLIT_PATTERN)!;
  const piece = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 6 }),
    fc.constantFrom("'s", "'LL", "'Re", ' ', '  ', '\n', '\r\n', ' \n ', '123456', 'abc', 'ÀÉ', '日本', '🦙', '...', '\u00a0', '\u3000', '\t'),
  );
  test('splits exactly like @huggingface/tokenizers', () => {
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }).map((xs) => xs.join('')), (s) => {
        expect(splitIsolated(s, ours)).toEqual(lib.pre_tokenize_text(s));
        expect(splitIsolated(s, ours).join('')).toBe(s);
      }),
      { numRuns: 500 },
    );
  });

  test('known Llama-3 splits: contractions case-insensitively, digits in threes, newline runs', () => {
    expect(splitIsolated("Hello WORLD'S 12345\n\n  x", ours)).toEqual(['Hello', ' WORLD', "'S", ' ', '123', '45', '\n\n', ' ', ' x']);
  });

  test('other Oniguruma patterns: (?i:) and \\s are translated, unknown constructs are refused', () => {
    const re = onigurumaToJsRegex("(?i:'s|'t)|\\s+|[a-z]+")!;
    expect(splitIsolated("it'S  ok", re)).toEqual(['it', "'S", '  ', 'ok']);
    expect(onigurumaToJsRegex('\\Gabc')).toBeNull();
    expect(onigurumaToJsRegex('[[:alpha:]]+')).toBeNull();
    expect(onigurumaToJsRegex('(unclosed')).toBeNull();
  });
});
