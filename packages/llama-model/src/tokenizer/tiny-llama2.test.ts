/**
 * A hand-written tokenizer.json in the exact layout of meta-llama/Llama-2-7b-hf's (specials 0-2,
 * byte tokens 3-258, merged tokens, single characters last), small enough that every expected id
 * below was worked out by hand from the merge ranks. Both engines must produce them.
 */
import { describe, expect, test } from 'vitest';
import { byteTokenName } from './bpe-model.js';
import { loadTokenizer } from './tokenizer-files.js';
import type { TokenizerEngineKind } from './tokenizer.js';

const SPECIAL = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

// Merged tokens (259..268) in merge order, then characters (269..278).
const MERGES = ['▁ t', 'e r', 'i n', '▁ a', 'e n', 'o n', '▁t h', 'e s', '▁th e', '▁ ▁'];
const MERGED = ['▁t', 'er', 'in', '▁a', 'en', 'on', '▁th', 'es', '▁the', '▁▁'];
const CHARS = ['▁', 'e', 't', 'a', 'h', 'r', 'i', 'n', 'o', 's'];

function tinyLlama2Json(): unknown {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[byteTokenName(b)] = 3 + b;
  [...MERGED, ...CHARS].forEach((t, i) => (vocab[t] = 259 + i));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [SPECIAL(0, '<unk>'), SPECIAL(1, '<s>'), SPECIAL(2, '</s>')],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<s>', type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges: MERGES,
    },
  };
}

const CONFIG = {
  add_bos_token: true,
  add_eos_token: false,
  bos_token: { __type: 'AddedToken', content: '<s>', lstrip: false, normalized: false, rstrip: false, single_word: false },
  eos_token: { __type: 'AddedToken', content: '</s>', lstrip: false, normalized: false, rstrip: false, single_word: false },
  unk_token: { __type: 'AddedToken', content: '<unk>', lstrip: false, normalized: false, rstrip: false, single_word: false },
  clean_up_tokenization_spaces: false,
  legacy: false,
  tokenizer_class: 'LlamaTokenizer',
};

// Ids by name, for readable expectations.
const ID: Record<string, number> = {};
[...MERGED, ...CHARS].forEach((t, i) => (ID[t] = 259 + i));
const byte = (b: number): number => 3 + b;

describe.each<TokenizerEngineKind>(['hf', 'native'])('hand-written Llama-2 tokenizer.json (%s engine)', (engine) => {
  const tok = loadTokenizer({ tokenizerJson: tinyLlama2Json(), tokenizerConfig: CONFIG, path: 'tiny/tokenizer.json' }, { engine });

  test('special tokens and sizes come from the files', () => {
    expect(tok.vocabSize).toBe(279);
    expect([tok.bosTokenId, tok.eosTokenId, tok.unkTokenId, tok.padTokenId]).toEqual([1, 2, 0, null]);
    expect(tok.eosTokenIds).toEqual([2]);
    expect(tok.addBosToken).toBe(true);
    expect(tok.addEosToken).toBe(false);
    expect(tok.idToToken(259)).toBe('▁t');
    expect(tok.tokenToId('<0x0A>')).toBe(13); // LLaMA-2's newline id
  });

  test('"the tea": ▁t merges left to right, then ▁th, then ▁the', () => {
    // ▁ t h e ▁ t e a → ▁t h e ▁t e a → ▁th e ▁t e a → ▁the ▁t e a
    expect(tok.encode('the tea')).toEqual([1, ID['▁the'], ID['▁t'], ID['e'], ID['a']]);
    expect(tok.encode('the tea', { addBos: false, addEos: true })).toEqual([ID['▁the'], ID['▁t'], ID['e'], ID['a'], 2]);
  });

  test('lower rank wins over position: "  on" merges "on" before "▁▁"', () => {
    // ▁ ▁ ▁ o n → (o n, rank 5) → ▁ ▁ ▁ on → (▁ ▁, rank 9, leftmost) → ▁▁ ▁ on
    expect(tok.encode('  on', { addBos: false })).toEqual([ID['▁▁'], ID['▁'], ID['on']]);
  });

  test('"inert" and "sister": merges that never meet stay apart', () => {
    // ▁ i n e r t → in (rank 2) and er (rank 1): er first, then in → ▁ in er t
    expect(tok.encode('inert', { addBos: false })).toEqual([ID['▁'], ID['in'], ID['er'], ID['t']]);
    // ▁ s i s t e r → er (1), then nothing else applies ("es" needs e s adjacent; it is not)
    expect(tok.encode('sister', { addBos: false })).toEqual([ID['▁'], ID['s'], ID['i'], ID['s'], ID['t'], ID['er']]);
  });

  test('characters outside the vocab fall back to UTF-8 byte tokens, newline included', () => {
    expect(tok.encode('hé', { addBos: false })).toEqual([ID['▁'], ID['h'], byte(0xc3), byte(0xa9)]);
    expect(tok.encode('a\nb', { addBos: false })).toEqual([ID['▁a'], byte(0x0a), byte(0x62)]);
    expect(tok.encode('🦙', { addBos: false })).toEqual([ID['▁'], byte(0xf0), byte(0x9f), byte(0xa6), byte(0x99)]);
  });

  test('special tokens in the text stay whole and the text after them gets its own ▁', () => {
    expect(tok.encode('<s>the</s>', { addBos: false })).toEqual([1, ID['▁the'], 2]);
  });

  test('decode: ▁ → space, byte runs → UTF-8, one leading space stripped, specials kept or skipped', () => {
    expect(tok.decode([1, ID['▁the'], ID['▁t'], ID['e'], ID['a']])).toBe('<s> the tea');
    expect(tok.decode([1, ID['▁the'], ID['▁t'], ID['e'], ID['a'], 2], { skipSpecialTokens: true })).toBe('the tea');
    expect(tok.decode([ID['▁'], ID['h'], byte(0xc3), byte(0xa9)])).toBe('hé');
    expect(tok.decode([ID['▁▁'], ID['▁'], ID['on']])).toBe('  on');
    expect(tok.decode([])).toBe('');
  });

  test('round trip keeps leading, trailing and repeated spaces', () => {
    // U+FEFF goes through byte fallback and must not be dropped as a byte-order mark.
    for (const s of ['the tea', ' the', 'the ', '  ', 'a  b\n\tc', 'héllo wörld 🦙', '', '\uFEFF', 'a\uFEFFb']) {
      expect(tok.decode(tok.encode(s), { skipSpecialTokens: true })).toBe(s);
    }
  });

  test('ids outside the vocabulary are a typed error naming the file', () => {
    expect(() => tok.decode([5, 279])).toThrow(/tiny\/tokenizer\.json: decode: ids\[1\] = 279 is not a token id \(vocab size 279\)/);
    expect(() => tok.decode([-1])).toThrow(/ids\[0\] = -1/);
    expect(() => tok.decode([1.5])).toThrow(/ids\[0\] = 1.5/);
  });
});
