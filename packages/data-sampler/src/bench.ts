import { corpusBytes, generateCorpus } from './corpus.js';
import { Packer, checkPackOptions, encodeDocument } from './pack.js';
import { byteLevelTokenizer, type Tokenizer } from './tokenizer.js';

export interface BenchPackResult {
  /** UTF-8 bytes tokenised. */
  bytes: number;
  documents: number;
  tokens: number;
  blocks: number;
  /** Seconds spent generating the corpus (not part of the rates). */
  generateSeconds: number;
  /** Seconds spent tokenising and packing. */
  seconds: number;
  mbPerSec: number;
  tokensPerSec: number;
}

/**
 * Throughput of tokenise-and-pack on the synthetic corpus: generates ~`mb` MB, then times
 * encode + BOS/EOS + packing into seqLen blocks. The tokenizer defaults to the byte-level one;
 * pass the real LLaMA tokenizer to measure it instead.
 */
export function benchPack(o: { mb?: number; seqLen?: number; tokenizer?: Tokenizer; seed?: number } = {}): BenchPackResult {
  const mb = o.mb ?? 4;
  const tok = o.tokenizer ?? byteLevelTokenizer();
  const pack = checkPackOptions({ seqLen: o.seqLen ?? 2048 });
  const g0 = performance.now();
  const corpus = generateCorpus({ seed: o.seed ?? 0, targetBytes: mb * 1e6 });
  const generateSeconds = (performance.now() - g0) / 1000;
  const bytes = corpusBytes(corpus);
  let documents = 0;
  let tokens = 0;
  let blocks = 0;
  const t0 = performance.now();
  for (const d of corpus.domains) {
    const p = new Packer(pack);
    for (const doc of d.documents) {
      const ids = encodeDocument(tok, doc, pack);
      documents++;
      tokens += ids.length;
      blocks += p.push(ids).length;
    }
    blocks += p.flush().length;
  }
  const seconds = Math.max((performance.now() - t0) / 1000, 1e-9);
  return { bytes, documents, tokens, blocks, generateSeconds, seconds, mbPerSec: bytes / 1e6 / seconds, tokensPerSec: tokens / seconds };
}
