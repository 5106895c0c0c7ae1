/**
 * Regression tests for RELIABILITY bug 4: malformed pipeline components of tokenizer.json must
 * come out of loadTokenizer as TokenizerError naming the file, with nothing printed by the engine.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { TokenizerError } from './errors.js';
import { sampleTokenizerTexts } from './sample-text.js';
import { Tokenizer } from './tokenizer.js';
import { trainLlamaTokenizer } from './train.js';
import type { TokenizerJson } from './tokenizer-json.js';

const texts = sampleTokenizerTexts({ seed: 1, count: 30 });
const bases = {
  llama2: trainLlamaTokenizer(texts, { vocabSize: 300, style: 'llama2' }),
  llama3: trainLlamaTokenizer(texts, { vocabSize: 400, style: 'llama3' }),
};

function load(style: 'llama2' | 'llama3', patch: (j: Record<string, unknown>) => void): Tokenizer {
  const json = structuredClone(bases[style].tokenizerJson) as unknown as Record<string, unknown>;
  patch(json);
  const tok = new Tokenizer({ tokenizerJson: json as unknown as TokenizerJson, tokenizerConfig: bases[style].tokenizerConfig, path: 'm/tokenizer.json' });
  tok.decode(tok.encode('Hello wörld <s>'));
  return tok;
}

function expectTyped(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(TokenizerError);
    expect((e as TokenizerError).message.startsWith('m/tokenizer.json: ')).toBe(true);
    return;
  }
  throw new Error('expected a TokenizerError');
}

afterEach(() => vi.restoreAllMocks());

describe('tokenizer.json component validation', () => {
  it('post_processor.single with a non-object item is a TokenizerError', () => {
    expectTyped(() => load('llama2', (j) => ((j.post_processor as Record<string, unknown>).single = [7])));
  });

  it('a Replace / Split pattern that is neither String nor Regex is rejected without a console warning', () => {
    const warn = vi.spyOn(console, 'warn');
    const log = vi.spyOn(console, 'log');
    fc.assert(
      fc.property(fc.constantFrom('llama2', 'llama3') as fc.Arbitrary<'llama2' | 'llama3'>, fc.jsonValue(), (style, bad) => {
        fc.pre(!(bad !== null && typeof bad === 'object' && !Array.isArray(bad) && Object.keys(bad).length === 1 && ('String' in bad || 'Regex' in bad)));
        const patch = (j: Record<string, unknown>): void => {
          // llama2 has Replace in its normalizer, llama3 a Split pre-tokenizer; set every pattern found.
          const walk = (v: unknown): void => {
            if (Array.isArray(v)) v.forEach(walk);
            else if (v !== null && typeof v === 'object') {
              if ('pattern' in v) (v as Record<string, unknown>).pattern = bad;
              Object.values(v).forEach(walk);
            }
          };
          walk(j.normalizer);
          walk(j.pre_tokenizer);
          walk(j.decoder);
        };
        expectTyped(() => load(style, patch));
      }),
      { numRuns: 40 },
    );
    expect(warn).not.toHaveBeenCalled();
    expect(log).not.toHaveBeenCalled();
  });

  it('unknown component types and wrong field types are TokenizerErrors; the unmodified files load', () => {
    for (const style of ['llama2', 'llama3'] as const) {
      expect(load(style, () => {}).vocabSize).toBeGreaterThan(0);
      for (const key of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder']) {
        expectTyped(() => load(style, (j) => (j[key] = { type: 'NoSuchType' })));
        expectTyped(() => load(style, (j) => (j[key] = { type: 'Sequence', [key === 'pre_tokenizer' ? 'pretokenizers' : `${key.replace('_', '')}s`]: 3 })));
      }
      expectTyped(() => load(style, (j) => (j.decoder = { type: 'Strip', content: 7, start: 1, stop: 0 })));
      expectTyped(() => load(style, (j) => (j.pre_tokenizer = { type: 'FixedLength', length: 0 })));
      expectTyped(() => load(style, (j) => (j.post_processor = { type: 'TemplateProcessing', single: [{ Sequence: { id: 'C', type_id: 0 } }] })));
    }
  });
});
