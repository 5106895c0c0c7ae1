import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { DecodeStream } from './decode-stream.js';
import { sampleTokenizerTexts } from './sample-text.js';
import { loadTokenizer } from './tokenizer-files.js';
import type { Tokenizer } from './tokenizer.js';
import { trainLlamaTokenizer, type LlamaTokenizerStyle } from './train.js';

const TEXTS = sampleTokenizerTexts({ seed: 11, count: 60 });
const TOKENIZERS: Record<LlamaTokenizerStyle, Tokenizer> = {
  llama2: loadTokenizer(trainLlamaTokenizer(TEXTS, { vocabSize: 700, style: 'llama2' })),
  llama3: loadTokenizer(trainLlamaTokenizer(TEXTS, { vocabSize: 700, style: 'llama3' })),
};

function streamAll(tok: Tokenizer, ids: number[], skipSpecialTokens: boolean): { chunks: string[]; text: string } {
  const stream = tok.decodeStream({ skipSpecialTokens });
  const chunks = ids.map((id) => stream.push(id));
  chunks.push(stream.flush());
  return { chunks, text: chunks.join('') };
}

const words = fc.constantFrom(...TEXTS.join(' ').split(/(?<=\s)|(?=\s)/u).slice(0, 300), '🦙', '👩‍💻', '日本語', 'é', '\u0000', ' ', '\n', '  ');
const text = fc.oneof(fc.array(words, { maxLength: 20 }).map((xs) => xs.join('')), fc.string({ unit: 'binary', maxLength: 30 }));

describe.each<LlamaTokenizerStyle>(['llama2', 'llama3'])('decodeStream (%s)', (style) => {
  const tok = TOKENIZERS[style];

  test('streamed chunks concatenate to the full decode, with and without special tokens', () => {
    fc.assert(
      fc.property(text, fc.boolean(), fc.boolean(), (s, addEos, skip) => {
        const ids = tok.encode(s, { addEos });
        expect(streamAll(tok, ids, skip).text).toBe(tok.decode(ids, { skipSpecialTokens: skip }));
      }),
      { numRuns: 200 },
    );
  });

  test('arbitrary id sequences (as a model may generate) also stream to the full decode', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: tok.vocabSize - 1 }), { maxLength: 40 }), fc.boolean(), (ids, skip) => {
        expect(streamAll(tok, ids, skip).text).toBe(tok.decode(ids, { skipSpecialTokens: skip }));
      }),
      { numRuns: 200 },
    );
  });

  test('a character split across byte tokens is emitted once, when its last byte arrives, never as U+FFFD', () => {
    const s = 'a 🦙 b';
    const ids = tok.encode(s, { addBos: false });
    const { chunks, text } = streamAll(tok, ids, false);
    expect(text).toBe(s);
    expect(chunks.join('')).not.toContain('\uFFFD');
    expect(chunks.filter((c) => c.includes('🦙'))).toHaveLength(1);
    // Every chunk is well-formed on its own (no half surrogate pairs).
    for (const c of chunks) expect(c.isWellFormed()).toBe(true);
  });

  test('an incomplete character at the end of the stream comes out as U+FFFD on flush', () => {
    const bytes = style === 'llama2' ? ['<0xF0>', '<0x9F>'] : ['ð', 'Ł'];
    const ids = bytes.map((b) => tok.tokenToId(b)!);
    const stream = tok.decodeStream();
    expect(ids.map((id) => stream.push(id)).join('')).toBe('');
    const tail = stream.flush();
    expect(tail).toMatch(/^\uFFFD+$/);
    expect(tail).toBe(tok.decode(ids));
    expect(stream.flush()).toBe('');
  });
});

test('DecodeStream works over any decode function that is prefix-stable', () => {
  const table = ['', 'a', 'bc', '\uD83E', '\uDD99'];
  // A toy decoder that joins pieces and marks a dangling high surrogate as U+FFFD.
  const decode = (ids: readonly number[]): string => ids.map((i) => table[i]).join('').replace(/[\uD800-\uDBFF]$/, '\uFFFD');
  const s = new DecodeStream(decode);
  expect([1, 3, 4, 2, 0].map((id) => s.push(id))).toEqual(['a', '', '🦙', 'bc', '']);
  expect(s.tokens).toEqual([1, 3, 4, 2, 0]);
  expect(s.flush()).toBe('');
});
