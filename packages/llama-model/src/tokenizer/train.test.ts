import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { BYTE_TO_CHAR } from './byte-level.js';
import { TokenizerError } from './errors.js';
import { sampleTokenizerTexts } from './sample-text.js';
import { loadTokenizer } from './tokenizer-files.js';
import { serializeConfigJson, serializeTokenizerJson, type BpeModelJson } from './tokenizer-json.js';
import { trainLlamaTokenizer, type LlamaTokenizerStyle } from './train.js';

const TEXTS = sampleTokenizerTexts({ seed: 7, count: 60 });

const modelOf = (t: { tokenizerJson: { model: unknown } }): BpeModelJson => t.tokenizerJson.model as BpeModelJson;

describe('trainLlamaTokenizer', () => {
  test.each<LlamaTokenizerStyle>(['llama2', 'llama3'])('%s: same texts and options give byte-identical files', (style) => {
    const a = trainLlamaTokenizer(TEXTS, { vocabSize: 700, style });
    const b = trainLlamaTokenizer([...TEXTS], { vocabSize: 700, style });
    expect(serializeTokenizerJson(a.tokenizerJson)).toBe(serializeTokenizerJson(b.tokenizerJson));
    expect(serializeConfigJson(a.tokenizerConfig)).toBe(serializeConfigJson(b.tokenizerConfig));
    // ...and the training actually depends on the texts.
    const c = trainLlamaTokenizer(sampleTokenizerTexts({ seed: 8, count: 60 }), { vocabSize: 700, style });
    expect(serializeTokenizerJson(c.tokenizerJson)).not.toBe(serializeTokenizerJson(a.tokenizerJson));
  });

  test('llama2 layout: <unk> <s> </s>, 256 byte tokens, merges, characters; Llama-2 components verbatim', () => {
    const t = trainLlamaTokenizer(TEXTS, { vocabSize: 600, style: 'llama2' });
    const j = t.tokenizerJson;
    const m = modelOf(t);
    expect(t.vocabSize).toBe(600);
    expect(Object.keys(m.vocab).length).toBe(600);
    expect([m.vocab['<unk>'], m.vocab['<s>'], m.vocab['</s>'], m.vocab['<0x00>'], m.vocab['<0x0A>'], m.vocab['<0xFF>']]).toEqual([0, 1, 2, 3, 13, 258]);
    // The first merge's result is id 259; single characters sit after all merged tokens.
    const [l, r] = (m.merges[0] as string).split(' ');
    expect(m.vocab[l + r]).toBe(259);
    expect(m.vocab['▁']).toBeGreaterThan(259);
    const idsOfMerged = new Set(m.merges.map((x) => m.vocab[(x as string).replace(' ', '')]));
    for (const [tok, id] of Object.entries(m.vocab)) if ([...tok].length === 1) expect(idsOfMerged.has(id)).toBe(false);
    expect(m).toMatchObject({ type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false });
    expect(j.normalizer).toEqual({
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    });
    expect(j.pre_tokenizer).toBeNull();
    expect(j.decoder).toEqual({
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    });
    expect(j.post_processor).toMatchObject({ type: 'TemplateProcessing', special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } } });
    expect(j.added_tokens.map((a) => [a.id, a.content, a.special, a.normalized])).toEqual([
      [0, '<unk>', true, false],
      [1, '<s>', true, false],
      [2, '</s>', true, false],
    ]);
    expect(t.tokenizerConfig).toMatchObject({
      tokenizer_class: 'LlamaTokenizerFast',
      bos_token: '<s>',
      eos_token: '</s>',
      unk_token: '<unk>',
      add_bos_token: true,
      add_eos_token: false,
      clean_up_tokenization_spaces: false,
      legacy: false,
      model_max_length: 4096,
    });
    expect(Object.keys(t.specialTokensMap)).toEqual(['bos_token', 'eos_token', 'unk_token']);
    // Digits are never merged (LLaMA-2's split_digits).
    for (const tok of Object.keys(m.vocab)) if (/[0-9]/.test(tok) && !tok.startsWith('<0x')) expect([...tok].length).toBe(1);
    expect(m.vocab['7']).toBeDefined();
  });

  test('llama3 layout: 256 byte-level tokens in tiktoken order, merges, then <|begin_of_text|> and friends', () => {
    const t = trainLlamaTokenizer(TEXTS, { vocabSize: 800, style: 'llama3' });
    const m = modelOf(t);
    const j = t.tokenizerJson;
    expect(m.vocab['!']).toBe(0);
    expect(m.vocab['Ā']).toBe(188); // byte 0x00, as in GPT-2 / Llama-3
    expect(m.vocab[BYTE_TO_CHAR[0x20]]).toBe(220); // 'Ġ'
    const nModel = Object.keys(m.vocab).length;
    expect(nModel).toBe(256 + new Set(m.merges.map((x) => (x as string).replace(' ', ''))).size);
    expect(j.added_tokens.slice(0, 2).map((a) => [a.id, a.content])).toEqual([
      [nModel, '<|begin_of_text|>'],
      [nModel + 1, '<|end_of_text|>'],
    ]);
    expect(j.added_tokens.map((a) => a.content)).toContain('<|eot_id|>');
    expect(t.vocabSize).toBe(nModel + 11);
    expect(m).toMatchObject({ unk_token: null, byte_fallback: false, fuse_unk: false, ignore_merges: true });
    expect(j.pre_tokenizer).toMatchObject({ type: 'Sequence', pretokenizers: [{ type: 'Split', behavior: 'Isolated', invert: false }, { type: 'ByteLevel', use_regex: false }] });
    expect(j.decoder).toMatchObject({ type: 'ByteLevel' });
    expect(t.tokenizerConfig).toMatchObject({ tokenizer_class: 'PreTrainedTokenizerFast', bos_token: '<|begin_of_text|>', eos_token: '<|end_of_text|>' });
    const tok = loadTokenizer(t);
    expect(tok.bosTokenId).toBe(nModel);
    expect(tok.encode('hi')[0]).toBe(nModel);
  });

  test('a corpus that runs out of pairs gives a smaller tokenizer unless padToVocabSize', () => {
    const tiny = ['abab abab', 'abba'];
    const small = trainLlamaTokenizer(tiny, { vocabSize: 400, style: 'llama2' });
    expect(small.vocabSize).toBeLessThan(400);
    expect(loadTokenizer(small).vocabSize).toBe(small.vocabSize);
    for (const style of ['llama2', 'llama3'] as const) {
      const padded = trainLlamaTokenizer(tiny, { vocabSize: 400, style, padToVocabSize: true });
      expect(padded.vocabSize).toBe(400);
      const tok = loadTokenizer(padded);
      expect(tok.vocabSize).toBe(400);
      const last = tok.idToToken(399)!;
      expect(last).toMatch(style === 'llama2' ? /^<\|reserved_\d+\|>$/ : /^<\|reserved_special_token_\d+\|>$/);
      expect(tok.isSpecialTokenId(399)).toBe(true);
      expect(tok.encode(`x${last}y`, { addBos: false })).toContain(399);
    }
  });

  test('merged tokens never collide with special or byte-token spellings, even when the text is full of them', () => {
    const nasty = Array.from({ length: 40 }, (_, i) => `x<s>y</s>z<unk>${i % 3} <0x41> <|begin_of_text|><|end_of_text|>`);
    for (const style of ['llama2', 'llama3'] as const) {
      const t = trainLlamaTokenizer(nasty, { vocabSize: 1000, style, minPairCount: 1 });
      const m = modelOf(t);
      const ids = [...Object.values(m.vocab), ...t.tokenizerJson.added_tokens.filter((a) => !(a.content in m.vocab)).map((a) => a.id)];
      expect(new Set(ids).size).toBe(ids.length);
      expect(Math.max(...ids) + 1).toBe(t.vocabSize);
      const contents = t.tokenizerJson.added_tokens.map((a) => a.content);
      for (const c of contents) if (c in m.vocab) expect(style).toBe('llama2'); // only <unk>/<s>/</s> live in both
      expect(loadTokenizer(t, { engine: 'native' }).vocabSize).toBe(t.vocabSize);
    }
  });

  test('ties in pair counts go to the lexicographically smaller pair', () => {
    // Pre-tokens: ba, Ġdc, Ġfe, fe, Ġdc, Ġba. Pairs (b a) (d c) (f e) (Ġ d) each occur twice,
    // (Ġ f) (Ġ b) once. Byte-level 'Ġ' is U+0120, so it sorts after the letters; once "dc" exists,
    // (Ġ dc) occurs twice and is next.
    const t = trainLlamaTokenizer(['ba dc fe', 'fe dc ba'], { vocabSize: 600, style: 'llama3', minPairCount: 1 });
    expect(modelOf(t).merges.slice(0, 4)).toEqual(['b a', 'd c', 'f e', 'Ġ dc']);
    // The same texts in the other order give the same merges: counts, not order of appearance, decide.
    const u = trainLlamaTokenizer(['fe dc ba', 'ba dc fe'], { vocabSize: 600, style: 'llama3', minPairCount: 1 });
    expect(modelOf(u).merges).toEqual(modelOf(t).merges);
  });

  test('property: on random corpora the tokenizer round-trips its own training texts and merges are consistent', () => {
    const word = fc.constantFrom('the', 'router', 'expert', 'ab', 'aab', 'été', '専門家', '🦙', 'x1', '42', '\t', '\n');
    const text = fc.array(word, { minLength: 1, maxLength: 12 }).map((ws) => ws.join(' '));
    fc.assert(
      fc.property(fc.array(text, { minLength: 1, maxLength: 20 }), fc.constantFrom<LlamaTokenizerStyle>('llama2', 'llama3'), fc.integer({ min: 280, max: 420 }), (texts, style, vocabSize) => {
        const t = trainLlamaTokenizer(texts, { vocabSize, style, minPairCount: 1 });
        expect(t.vocabSize).toBeLessThanOrEqual(vocabSize);
        const m = modelOf(t);
        for (const mg of m.merges) {
          const [l, r] = (mg as string).split(' ');
          expect(m.vocab[l]).toBeDefined();
          expect(m.vocab[r]).toBeDefined();
          expect(m.vocab[l + r]).toBeDefined();
        }
        const tok = loadTokenizer(t);
        for (const s of texts) expect(tok.decode(tok.encode(s, { addBos: false }))).toBe(s);
      }),
      { numRuns: 40 },
    );
  });

  test('bad options are typed errors naming the option', () => {
    const run = (o: object) => () => trainLlamaTokenizer(['a'], { vocabSize: 1000, style: 'llama2', ...o });
    expect(run({ vocabSize: 100 })).toThrow(TokenizerError);
    expect(run({ vocabSize: 100 })).toThrow(/trainLlamaTokenizer: vocabSize: must be an integer in \[259,/);
    expect(run({ style: 'llama3', vocabSize: 266 })).toThrow(/\[267,/);
    expect(run({ style: 'gpt2' })).toThrow(/style: must be 'llama2' or 'llama3'/);
    expect(run({ maxTokenLength: 1 })).toThrow(/maxTokenLength/);
    expect(run({ characterCoverage: 0 })).toThrow(/characterCoverage/);
    expect(() => trainLlamaTokenizer([3 as unknown as string], { vocabSize: 300, style: 'llama2' })).toThrow(/texts: every text must be a string/);
  });
});
