import { describe, expect, it } from 'vitest';
import { loadTokenizer, sampleTokenizerTexts, trainLlamaTokenizer } from '@llama-moe/llama-model/node';
import { decodeStreamAfter } from './decode-after-prompt.js';

describe('decodeStreamAfter', () => {
  it('generated text keeps the space before its first word', () => {
    const t = trainLlamaTokenizer(sampleTokenizerTexts(), { vocabSize: 512, style: 'llama2', padToVocabSize: true });
    const tok = loadTokenizer({ tokenizerJson: t.tokenizerJson, tokenizerConfig: t.tokenizerConfig });
    const prompt = tok.encode('He walked to the');
    // Encoding a text alone prepends "▁", as a generated word after the prompt has it.
    const generated = tok.encode('river and back', { addBos: false });
    expect(tok.idToToken(generated[0]!)!.startsWith('\u2581')).toBe(true);
    const s = decodeStreamAfter(tok, prompt);
    const text = generated.map((id) => s.push(id)).join('') + s.flush();
    expect(text).toBe(' river and back');
    // What a fresh stream prints: the first word glued to the prompt.
    const fresh = tok.decodeStream();
    expect(generated.map((id) => fresh.push(id)).join('') + fresh.flush()).toBe('river and back');
  });
});
