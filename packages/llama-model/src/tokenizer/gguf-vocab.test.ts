/**
 * The project's tokenizers as GGUF metadata, tokenised by a real llama.cpp (node-llama-cpp 3.21.1):
 * text → ids identical to the project's tokenizer on more than 1,000 texts, for a SentencePiece-style
 * BPE with byte fallback (`llama`) and a Llama-3 byte-level BPE (`gpt2` + `llama-bpe`).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseLlamaConfig } from '../io/config.js';
import { GgufFile } from '../io/gguf-reader.js';
import { writeLlamaGguf } from '../model/gguf-export.js';
import { LlamaForCausalLM } from '../model/llama.js';
import { PRESETS } from '../model/presets.js';
import { openInLlamaCpp } from '@llama-moe/test-support/llama-cpp';
import { ggufTokenizerFiles, ggufTokenizerKind } from './gguf-vocab.js';
import { parseSentencePieceModel, sentencePieceModelBytes } from './sentencepiece-model.js';
import { sampleTokenizerTexts } from './sample-text.js';
import { Tokenizer } from './tokenizer.js';
import { trainLlamaTokenizer, type LlamaTokenizerStyle } from './train.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gguf-vocab-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** ≥ 1,000 texts: sentences and lines of held-out generated documents, whole documents, and edge cases. */
function corpus(): string[] {
  const docs = sampleTokenizerTexts({ seed: 1234, count: 150 });
  const pieces = docs.flatMap((d) => d.split(/(?<=[.!?;])\s+|\n/)).filter((s) => s.length > 0);
  const edge = ['', ' ', '  leading spaces', 'trailing  ', 'tabs\tand\nnewlines\n\n', 'x', '日本', '🦙🦙', 'ÿ\u00ad\u200b', 'a  b   c', '\n', ' \n ', "it's we're I'll", '12345678901', 'Ünïcödé façade'];
  return [...edge, ...docs, ...pieces];
}

const STYLES: LlamaTokenizerStyle[] = ['llama2', 'llama3'];

describe('tokenizer as GGUF metadata, tokenised by llama.cpp', () => {
  for (const style of STYLES) {
    it(`${style}: llama.cpp's ids equal the project's on ${'≥'}1,000 texts`, async () => {
      const tr = trainLlamaTokenizer(sampleTokenizerTexts({ seed: 5, count: 150 }), { vocabSize: 1024, style, padToVocabSize: true });
      const tok = new Tokenizer({ tokenizerJson: tr.tokenizerJson, tokenizerConfig: tr.tokenizerConfig });
      expect(ggufTokenizerKind(tok)).toEqual({ model: style === 'llama2' ? 'llama' : 'gpt2' });
      const cfg = parseLlamaConfig({ ...PRESETS.tiny, vocab_size: tok.vocabSize, hidden_size: 32, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 2, bos_token_id: tok.bosTokenId, eos_token_id: tok.eosTokenId });
      const file = path.join(tmp, `${style}.gguf`);
      writeLlamaGguf(LlamaForCausalLM.random(cfg, { seed: 1 }), file, { tokenizer: tok });
      const g = GgufFile.open(file);
      expect(g.metadataJs()['tokenizer.ggml.add_bos_token']).toBe(tok.addBosToken);
      g.close();
      const run = await openInLlamaCpp(file);
      try {
        // Plus 300 random strings: words of the corpus with random Unicode (any plane) and ASCII punctuation.
        const rnd = fc.sample(fc.array(fc.oneof(fc.constantFrom(' ', '  ', '\n', '\t', 'the', ' experts', 'ing', '123', '.', "'s"), fc.string({ unit: 'binary', maxLength: 3 }), fc.string({ unit: 'grapheme-ascii', maxLength: 4 })), { maxLength: 12 }).map((a) => a.join('')), { numRuns: 300, seed: 11 });
        const texts = [...corpus(), ...rnd];
        expect(texts.length).toBeGreaterThanOrEqual(1000);
        let same = 0;
        const diffs: string[] = [];
        let tokensSeen = 0;
        for (const t of texts) {
          const ours = tok.encode(t, { addBos: false, addEos: false });
          const theirs = run.tokenize(t);
          tokensSeen += ours.length;
          if (ours.length === theirs.length && ours.every((x, i) => x === theirs[i])) same++;
          else if (diffs.length < 3) diffs.push(`${JSON.stringify(t)}: ours ${JSON.stringify(ours)} llama.cpp ${JSON.stringify(theirs)}`);
        }
        console.log(`[gguf tokenizer ${style}] ${same}/${texts.length} texts identical (${tokensSeen} tokens)`);
        expect(diffs).toEqual([]);
        expect(same).toBe(texts.length);
        // The tokenizer rebuilt from the GGUF metadata (GGUF as a source) encodes like both.
        const g2 = GgufFile.open(file);
        const rebuilt = new Tokenizer(ggufTokenizerFiles(g2.metadata, file)!);
        g2.close();
        expect(rebuilt.addBosToken).toBe(tok.addBosToken);
        expect(rebuilt.bosTokenId).toBe(tok.bosTokenId);
        const bad = texts.filter((t) => JSON.stringify(rebuilt.encode(t)) !== JSON.stringify(tok.encode(t)));
        expect(bad.slice(0, 3)).toEqual([]);
        expect(rebuilt.decode(tok.encode(texts[20]!), { skipSpecialTokens: true })).toBe(tok.decode(tok.encode(texts[20]!), { skipSpecialTokens: true }));
        // tokenizer.model (SentencePiece): the same pieces, scores and types llama.cpp just tokenised with,
        // so convert_hf_to_gguf.py's SentencePiece path writes this very vocabulary.
        if (style === 'llama2') {
          const spm = parseSentencePieceModel(sentencePieceModelBytes(tok));
          const g3 = GgufFile.open(file);
          const md = g3.metadataJs();
          g3.close();
          expect(spm.pieces.map((p) => p.piece)).toEqual(md['tokenizer.ggml.tokens']);
          expect(spm.pieces.map((p) => p.score)).toEqual(md['tokenizer.ggml.scores']);
          expect(spm.pieces.map((p) => p.type)).toEqual(md['tokenizer.ggml.token_type']);
          expect(spm.trainer).toMatchObject({ 3: 2, 4: tok.vocabSize, 35: 1, 40: tok.unkTokenId, 41: tok.bosTokenId, 42: tok.eosTokenId, 43: -1 });
          expect(spm.normalizer).toEqual({ 1: 'identity', 3: 1, 4: 0, 5: 1 });
        } else {
          expect(() => sentencePieceModelBytes(tok)).toThrow(/no tokenizer.model: .*byte-level/);
        }
      } finally {
        await run.dispose();
      }
    }, 120_000);
  }
});
