import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import { TokenizerError } from './errors.js';
import { sampleTokenizerTexts } from './sample-text.js';
import { loadTokenizer, saveTokenizerFiles } from './tokenizer-files.js';
import { serializeTokenizerJson } from './tokenizer-json.js';
import { trainLlamaTokenizer, type LlamaTokenizerStyle } from './train.js';
import { toWellFormed } from './unicode.js';

const TEXTS = sampleTokenizerTexts({ seed: 3, count: 80 });
const TRAINED = {
  llama2: trainLlamaTokenizer(TEXTS, { vocabSize: 900, style: 'llama2' }),
  llama3: trainLlamaTokenizer(TEXTS, { vocabSize: 900, style: 'llama3' }),
};

/**
 * Strings that hit the interesting paths: corpus words (merges), whitespace runs, newlines and
 * tabs, control characters, emoji (4-byte, ZWJ sequences), CJK, combining marks, lone surrogates,
 * and arbitrary code points.
 */
const pieces = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...TEXTS.join(' ').split(/(?<=\s)|(?=\s)/u).slice(0, 400)) },
  { weight: 2, arbitrary: fc.constantFrom(' ', '  ', '\n', '\n\n', '\t', '\r\n', '   ', '\u00a0', '\u3000') },
  { weight: 2, arbitrary: fc.constantFrom('🦙', '👩‍💻', '🇫🇷', '日本語', '專家', 'é', 'e\u0301', '\u0000', '\u001b', '\u007f', '\uFEFF', "'s", "'LL") },
  { weight: 1, arbitrary: fc.constantFrom('\uD800', '\uDFFF', '\uDBFF\uDBFF', 'a\uDC00b') },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
);
const text = fc.array(pieces, { maxLength: 24 }).map((xs) => xs.join(''));

describe.each<LlamaTokenizerStyle>(['llama2', 'llama3'])('generated %s tokenizer', (style) => {
  const trained = TRAINED[style];
  const hf = loadTokenizer(trained);
  const native = loadTokenizer(trained, { engine: 'native' });
  const specials = trained.tokenizerJson.added_tokens.map((t) => t.content);
  const plain = (s: string): boolean => !specials.some((sp) => s.includes(sp)) && !(style === 'llama2' && s.includes('▁'));

  test('decode(encode(s)) === s for any string (lone surrogates become U+FFFD)', () => {
    fc.assert(
      fc.property(text, (s) => {
        fc.pre(plain(s));
        const ids = hf.encode(s);
        expect(ids[0]).toBe(hf.bosTokenId);
        expect(hf.decode(ids, { skipSpecialTokens: true })).toBe(toWellFormed(s));
        expect(hf.decode(ids.slice(1))).toBe(toWellFormed(s));
      }),
      { numRuns: 300 },
    );
  });

  test('@huggingface/tokenizers and the native engine agree on encode and decode', () => {
    fc.assert(
      fc.property(text, (s) => {
        const ids = hf.encode(s, { addBos: false });
        expect(native.encode(s, { addBos: false })).toEqual(ids);
        expect(native.decode(ids)).toBe(hf.decode(ids));
      }),
      { numRuns: 300 },
    );
  });

  test('the tokenizer compresses text like its training data', () => {
    const s = TEXTS.slice(0, 8).join('\n');
    expect(hf.encode(s).length).toBeLessThan(s.length / 2);
  });

  test('special tokens in text are single ids, never split, and skipSpecialTokens drops them', () => {
    const [bos, eos] = style === 'llama2' ? ['<s>', '</s>'] : ['<|begin_of_text|>', '<|end_of_text|>'];
    const ids = hf.encode(`${bos}hello${eos}${eos}`, { addBos: false });
    expect(ids[0]).toBe(hf.bosTokenId);
    expect(ids.slice(-2)).toEqual([hf.eosTokenId, hf.eosTokenId]);
    expect(ids.filter((id) => hf.isSpecialTokenId(id))).toHaveLength(3);
    expect(hf.decode(ids, { skipSpecialTokens: true })).toBe('hello');
    if (style === 'llama3') {
      const eot = hf.tokenToId('<|eot_id|>')!;
      expect(hf.encode('a<|eot_id|>b', { addBos: false })).toContain(eot);
      expect(hf.decode(hf.encode('a<|eot_id|>b', { addBos: false }))).toBe('a<|eot_id|>b');
    }
  });

  test('addBos / addEos control BOS and EOS; defaults follow tokenizer_config.json', () => {
    const body = hf.encode('the router', { addBos: false });
    expect(hf.encode('the router')).toEqual([hf.bosTokenId, ...body]);
    expect(hf.encode('the router', { addEos: true })).toEqual([hf.bosTokenId, ...body, hf.eosTokenId]);
    expect(hf.encode('the router', { addBos: false, addEos: true })).toEqual([...body, hf.eosTokenId]);
    expect(hf.encode('')).toEqual([hf.bosTokenId]);
    expect(hf.decode([])).toBe('');
  });

  test('idToToken / tokenToId are inverse over the whole vocabulary', () => {
    expect(hf.vocabSize).toBe(trained.vocabSize);
    for (let id = 0; id < hf.vocabSize; id++) expect(hf.tokenToId(hf.idToToken(id)!)).toBe(id);
    expect(hf.idToToken(hf.vocabSize)).toBeUndefined();
    expect(hf.tokenToId('no such token ✗')).toBeUndefined();
  });
});

describe('loading from a folder', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llama-tok-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('saveTokenizerFiles then loadTokenizer(dir) gives the same tokenizer; tokenizer.json is ordered by id', () => {
    const dir = path.join(tmp, 'saved');
    const written = saveTokenizerFiles(dir, TRAINED.llama2);
    expect(written.map((p) => path.basename(p))).toEqual(['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']);
    const text = fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8');
    expect(text).toBe(serializeTokenizerJson(TRAINED.llama2.tokenizerJson));
    // Vocab in id order even for integer-like keys (which JS objects would enumerate first).
    const vocabLines = text.slice(text.indexOf('"vocab": {')).split('\n').slice(1, 6);
    expect(vocabLines.map((l) => l.trim())).toEqual(['"<unk>": 0,', '"<s>": 1,', '"</s>": 2,', '"<0x00>": 3,', '"<0x01>": 4,']);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
    expect(Object.keys(cfg)).toEqual([...Object.keys(cfg)].sort());
    const fromDir = loadTokenizer(dir);
    const fromMem = loadTokenizer(TRAINED.llama2);
    for (const s of TEXTS.slice(0, 10)) expect(fromDir.encode(s)).toEqual(fromMem.encode(s));
    expect(loadTokenizer(path.join(dir, 'tokenizer.json')).vocabSize).toBe(fromMem.vocabSize);
    expect(fs.readdirSync(dir).sort()).toEqual(['special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
  });

  test('generation_config.json eos_token_id list extends eosTokenIds', () => {
    const dir = path.join(tmp, 'gen');
    saveTokenizerFiles(dir, TRAINED.llama3);
    const tok0 = loadTokenizer(dir);
    const eot = tok0.tokenToId('<|eot_id|>')!;
    fs.writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [tok0.eosTokenId, eot] }));
    const tok = loadTokenizer(dir);
    expect(tok.eosTokenIds).toEqual([tok0.eosTokenId, eot]);
    expect(tok.eosTokenId).toBe(tok0.eosTokenId);
  });

  test('a missing folder, a missing tokenizer.json and invalid JSON are typed errors naming the file', () => {
    const missing = path.join(tmp, 'nope');
    expect(() => loadTokenizer(missing)).toThrow(TokenizerError);
    expect(() => loadTokenizer(missing)).toThrow(`${path.join(missing, 'tokenizer.json')}: folder '${missing}' does not exist`);
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    try {
      loadTokenizer(empty);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TokenizerError);
      expect((e as TokenizerError).code).toBe('missing-file');
      expect((e as TokenizerError).file).toBe(path.join(empty, 'tokenizer.json'));
    }
    const bad = path.join(tmp, 'bad');
    fs.mkdirSync(bad);
    fs.writeFileSync(path.join(bad, 'tokenizer.json'), '{"model": ');
    expect(() => loadTokenizer(bad)).toThrow(new RegExp(`${path.join(bad, 'tokenizer.json').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not valid JSON`));
    fs.writeFileSync(path.join(bad, 'tokenizer.json'), '[1, 2]');
    expect(() => loadTokenizer(bad)).toThrow(/tokenizer\.json: tokenizer\.json must hold a JSON object/);
    fs.writeFileSync(path.join(bad, 'tokenizer.json'), serializeTokenizerJson(TRAINED.llama2.tokenizerJson));
    fs.writeFileSync(path.join(bad, 'tokenizer_config.json'), 'nope');
    expect(() => loadTokenizer(bad)).toThrow(/tokenizer_config\.json: not valid JSON/);
  });
});

describe('unsupported and inconsistent tokenizer.json files', () => {
  const base = TRAINED.llama2.tokenizerJson;
  const withModel = (model: unknown) => ({ tokenizerJson: { ...base, model }, path: 'm/tokenizer.json' });

  test.each(['hf', 'native'] as const)('Unigram and WordPiece models are rejected by name (%s engine)', (engine) => {
    const unigram = withModel({ type: 'Unigram', unk_id: 0, vocab: [['<unk>', 0]] });
    expect(() => loadTokenizer(unigram, { engine })).toThrow(/m\/tokenizer\.json: model\.type 'Unigram' is not supported; LLaMA tokenizers are BPE/);
    const wordpiece = withModel({ type: 'WordPiece', unk_token: '[UNK]', vocab: { '[UNK]': 0 } });
    try {
      loadTokenizer(wordpiece, { engine });
      expect.unreachable();
    } catch (e) {
      expect((e as TokenizerError).code).toBe('unsupported');
      expect((e as TokenizerError).message).toMatch(/'WordPiece'/);
    }
  });

  test('a tokenizer.json without a model, or with a bad added token, is invalid', () => {
    expect(() => loadTokenizer({ tokenizerJson: { version: '1.0' }, path: 'x/tokenizer.json' })).toThrow(/x\/tokenizer\.json: 'model' is missing/);
    expect(() => loadTokenizer({ tokenizerJson: { ...base, added_tokens: [{ id: -1, content: 'a' }] } })).toThrow(/added_tokens\[0\]/);
  });

  test('the native engine names components it does not run', () => {
    const json = { ...base, normalizer: { type: 'BertNormalizer' } };
    expect(() => loadTokenizer({ tokenizerJson: json, path: 'b/tokenizer.json' }, { engine: 'native' })).toThrow(/b\/tokenizer\.json: normalizer\.type 'BertNormalizer' is not supported/);
  });

  test("engine 'auto' runs the native engine where it can and @huggingface/tokenizers where it cannot", () => {
    expect(loadTokenizer({ tokenizerJson: base }, { engine: 'auto' }).engineKind).toBe('native');
    expect(loadTokenizer({ tokenizerJson: base }).engineKind).toBe('hf');
    const bert = loadTokenizer({ tokenizerJson: { ...base, normalizer: { type: 'BertNormalizer' } } }, { engine: 'auto' });
    expect(bert.engineKind).toBe('hf');
    const hf = loadTokenizer({ tokenizerJson: { ...base, normalizer: { type: 'BertNormalizer' } } });
    for (const s of ['Hello World', 'a b  c']) expect(bert.encode(s)).toEqual(hf.encode(s));
  });

  test('a bos_token in tokenizer_config.json that the vocabulary lacks is an error naming tokenizer_config.json', () => {
    expect(() => loadTokenizer({ tokenizerJson: base, tokenizerConfig: { bos_token: '<BOS>' }, path: 'c/tokenizer.json' })).toThrow(/c\/tokenizer_config\.json: 'bos_token' is '<BOS>'/);
  });
});

describe('non-legacy LLaMA-2 layout (Metaspace pre-tokenizer, as transformers converts with legacy=false)', () => {
  const json = {
    ...TRAINED.llama2.tokenizerJson,
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false },
  };
  const hf = loadTokenizer({ tokenizerJson: json, tokenizerConfig: TRAINED.llama2.tokenizerConfig });
  const native = loadTokenizer({ tokenizerJson: json, tokenizerConfig: TRAINED.llama2.tokenizerConfig }, { engine: 'native' });
  const legacy = loadTokenizer(TRAINED.llama2);

  // Metaspace only prepends ▁ when the text does not already start with one, so " x" differs.
  test('plain text not starting with a space encodes as with the Prepend/Replace normalizer; both engines agree', () => {
    fc.assert(
      fc.property(text, (s) => {
        const ids = hf.encode(s);
        expect(native.encode(s)).toEqual(ids);
        const plain = !/^[ ▁]/u.test(s) && !['<s>', '</s>', '<unk>'].some((sp) => s.includes(sp));
        if (plain) expect(ids).toEqual(legacy.encode(s));
      }),
      { numRuns: 150 },
    );
  });

  test('prepend_scheme "first": text right after a special token gets no ▁', () => {
    const after = hf.encode('<s>the', { addBos: false });
    expect(after[0]).toBe(1);
    expect(hf.idToToken(after[1])!.startsWith('▁')).toBe(false);
    expect(native.encode('<s>the', { addBos: false })).toEqual(after);
    expect(legacy.idToToken(legacy.encode('<s>the', { addBos: false })[1])!.startsWith('▁')).toBe(true);
    expect(hf.encode(' x', { addBos: false })).toEqual(legacy.encode('x', { addBos: false }));
  });
});

describe('real-format Llama-3 details', () => {
  test('defaults come from the post-processor template when tokenizer_config.json has no add_bos_token', () => {
    const { add_bos_token: _a, add_eos_token: _b, ...config } = TRAINED.llama3.tokenizerConfig;
    const tok = loadTokenizer({ tokenizerJson: TRAINED.llama3.tokenizerJson, tokenizerConfig: config });
    expect(tok.addBosToken).toBe(true);
    expect(tok.addEosToken).toBe(false);
    expect(tok.encode('hi')[0]).toBe(tok.bosTokenId);
  });

  test('clean_up_tokenization_spaces true applies transformers clean-up on decode', () => {
    const tok = loadTokenizer({ tokenizerJson: TRAINED.llama3.tokenizerJson, tokenizerConfig: { ...TRAINED.llama3.tokenizerConfig, clean_up_tokenization_spaces: true } });
    expect(tok.decode(tok.encode('a , b .', { addBos: false }))).toBe('a, b.');
  });
});
