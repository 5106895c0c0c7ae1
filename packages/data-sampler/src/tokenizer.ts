import { createHash } from 'node:crypto';

/**
 * What this package needs from a tokenizer. The real one (SentencePiece LLaMA tokenizer) lives in
 * @llama-moe/llama-model; this package never imports it so the two can evolve independently.
 * `encode` must NOT add BOS/EOS itself: packing adds them per document.
 */
export interface Tokenizer {
  encode(text: string): number[];
  bosTokenId: number;
  eosTokenId: number;
  /** Optional stable identity (e.g. sha256 of tokenizer.model); otherwise one is derived by probing. */
  hash?: string;
}

const PROBES = [
  'The quick brown fox jumps over the lazy dog.',
  'def f(x):\n    return x ** 2  # code',
  '$\\int_0^1 x^2 \\, dx = \\frac{1}{3}$',
  'Ünïcödé — 東京 🚀',
  '   leading spaces and\ttabs\n\n',
];

/**
 * A short fingerprint of a tokenizer, stored in dataset manifests and sampler states so data
 * packed with one tokenizer is never silently fed to a model trained with another.
 */
export function tokenizerHash(tok: Tokenizer): string {
  if (typeof tok.hash === 'string' && tok.hash.length > 0) return tok.hash;
  const h = createHash('sha256');
  h.update(JSON.stringify({ bos: tok.bosTokenId, eos: tok.eosTokenId }));
  for (const p of PROBES) h.update(JSON.stringify(tok.encode(p)));
  return `probe-sha256:${h.digest('hex').slice(0, 16)}`;
}

/**
 * A deterministic byte-level tokenizer: id = byte + 3, with 0 = pad, 1 = BOS, 2 = EOS (vocab 259).
 * For tests, benches and demos that have no real tokenizer at hand.
 */
export function byteLevelTokenizer(): Tokenizer & { vocabSize: number; padTokenId: number; decode(ids: ArrayLike<number>): string } {
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  return {
    bosTokenId: 1,
    eosTokenId: 2,
    padTokenId: 0,
    vocabSize: 259,
    hash: 'byte-level-v1',
    encode(text: string): number[] {
      const bytes = enc.encode(text);
      const out = new Array<number>(bytes.length);
      for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]! + 3;
      return out;
    },
    decode(ids: ArrayLike<number>): string {
      const bytes: number[] = [];
      for (let i = 0; i < ids.length; i++) if (ids[i]! >= 3) bytes.push(ids[i]! - 3);
      return dec.decode(Uint8Array.from(bytes));
    },
  };
}
