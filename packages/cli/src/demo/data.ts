/**
 * The demo's data: the synthetic SlimPajama-like corpus regenerated from the recipe's seed, split
 * per domain into held-out documents (validation) and training documents, and a tokenizer adapter
 * for data-sampler that remembers each document's ids (the sampler re-tokenises a document every
 * epoch; on a few-MB corpus the cache is a few MB and saves most of the tokeniser's time).
 */
import { generateCorpus, holdoutValidation, type DomainSource, type Tokenizer as SamplerTokenizer } from '@llama-moe/data-sampler';
import type { Tokenizer } from '@llama-moe/llama-model';
import { CliError } from '../errors.js';
import type { CorpusRecipe } from './recipe.js';

export interface DemoCorpus {
  /** Per domain: the documents after the held-out prefix. */
  train: DomainSource[];
  /** Per domain: the first `heldOutDocs` documents (validation pool). */
  heldOut: DomainSource[];
  /** UTF-8 bytes of the whole corpus. */
  bytes: number;
}

/** Regenerate the corpus and split every domain into held-out and training documents. */
export function demoCorpus(recipe: CorpusRecipe): DemoCorpus {
  const corpus = generateCorpus({ seed: recipe.seed, targetBytes: recipe.targetBytes, domains: recipe.domains });
  const enc = new TextEncoder();
  let bytes = 0;
  const train: DomainSource[] = [];
  const heldOut: DomainSource[] = [];
  for (const d of corpus.domains) {
    for (const doc of d.documents) bytes += enc.encode(doc).length;
    if (d.documents.length <= recipe.heldOutDocs) {
      throw new CliError(`demo corpus: domain ${d.name} has ${d.documents.length} documents, not more than the ${recipe.heldOutDocs} held out`, 'raise corpus.targetBytes or lower corpus.heldOutDocs in the recipe');
    }
    heldOut.push({ name: d.name, documents: d.documents.slice(0, recipe.heldOutDocs) });
    train.push({ name: d.name, documents: d.documents.slice(recipe.heldOutDocs) });
  }
  return { train, heldOut, bytes };
}

/**
 * Validation blocks: the first `blocksPerDomain` packed blocks of `seqLen` tokens of each
 * domain's held-out documents (BOS per document, as the trainer packs).
 */
export async function validationBlocks(heldOut: DomainSource[], tokenizer: SamplerTokenizer, seqLen: number, blocksPerDomain: number): Promise<Record<string, Int32Array[]>> {
  const h = await holdoutValidation({ sources: heldOut, tokenizer, seqLen, blocksPerDomain });
  return h.validation;
}

/** data-sampler's view of a LLaMA tokenizer (no BOS/EOS: packing adds them), memoised per text. */
export function cachedSamplerTokenizer(tok: Tokenizer): SamplerTokenizer {
  if (tok.bosTokenId === null || tok.eosTokenId === null) {
    throw new CliError(`demo tokenizer ${tok.path}: has no ${tok.bosTokenId === null ? 'BOS' : 'EOS'} token`, 'use a LLaMA tokenizer (with <s> and </s>)');
  }
  const cache = new Map<string, number[]>();
  return {
    bosTokenId: tok.bosTokenId,
    eosTokenId: tok.eosTokenId,
    encode(text: string): number[] {
      let ids = cache.get(text);
      if (!ids) {
        ids = tok.encode(text, { addBos: false, addEos: false });
        cache.set(text, ids);
      }
      // A copy: callers may append BOS / EOS to what they get.
      return ids.slice();
    },
  };
}
