/**
 * The Brown Corpus as the demo, the pre-training script and the reproduction use it: the three
 * splits as data-sampler sources, static domain weights (uniform or by size), and whole splits
 * packed into evaluation blocks.
 */
import { BROWN_DOMAINS, brownSources, loadBrownCorpus, packDocuments, type BrownCorpus, type DomainSource, type Tokenizer as SamplerTokenizer } from '@llama-moe/data-sampler';

export interface BrownData {
  corpus: BrownCorpus;
  train: DomainSource[];
  validation: DomainSource[];
  test: DomainSource[];
}

/** Read once per process and folder: the corpus never changes, and reading it takes a second or two. */
const cache = new Map<string, BrownData>();

export function brownData(o: { dir?: string } = {}): BrownData {
  const key = o.dir ?? '';
  let d = cache.get(key);
  if (!d) {
    const corpus = loadBrownCorpus(o);
    d = { corpus, train: brownSources(corpus, 'train'), validation: brownSources(corpus, 'validation'), test: brownSources(corpus, 'test') };
    cache.set(key, d);
  }
  return d;
}

/** Static domain weights proportional to each domain's UTF-8 bytes (the corpus's natural mix). */
export function sizeWeights(sources: readonly DomainSource[]): Record<string, number> {
  const enc = new TextEncoder();
  const bytes = sources.map((s) => (s.documents ?? []).reduce((n, d) => n + enc.encode(d).length, 0));
  const total = bytes.reduce((a, b) => a + b, 0);
  return Object.fromEntries(sources.map((s, i) => [s.name, bytes[i]! / total]));
}

/**
 * Every document of each domain packed into blocks of `seqLen` tokens (BOS per document, the last
 * partial block dropped), or the first `maxBlocks` of them. Domains in genre order.
 */
export function packedSplit(sources: readonly DomainSource[], tokenizer: SamplerTokenizer, seqLen: number, maxBlocks?: number): Record<string, Int32Array[]> {
  const out: Record<string, Int32Array[]> = {};
  const order = [...sources].sort((a, b) => BROWN_DOMAINS.indexOf(a.name) - BROWN_DOMAINS.indexOf(b.name));
  for (const s of order) {
    const blocks = packDocuments(tokenizer, s.documents ?? [], { seqLen, remainder: 'drop' }).map((b) => b.inputIds);
    out[s.name] = maxBlocks === undefined ? blocks : blocks.slice(0, maxBlocks);
  }
  return out;
}

/**
 * A unigram model (add-one smoothing over the vocabulary) estimated on the training blocks'
 * tokens, scored on the tokens a causal LM predicts in `blocks` (every position but each block's
 * first): the floor a model that has learned nothing about context would reach.
 */
export function unigramPerplexity(trainBlocks: Readonly<Record<string, readonly Int32Array[]>>, blocks: Readonly<Record<string, readonly Int32Array[]>>, vocabSize: number): { overall: number; perDomain: Record<string, number> } {
  const counts = new Float64Array(vocabSize).fill(1);
  let total = vocabSize;
  for (const bs of Object.values(trainBlocks)) for (const b of bs) for (let t = 1; t < b.length; t++) { counts[b[t]!]!++; total++; }
  const perDomain: Record<string, number> = {};
  let s = 0;
  let n = 0;
  for (const [d, bs] of Object.entries(blocks)) {
    let ds = 0;
    let dn = 0;
    for (const b of bs) for (let t = 1; t < b.length; t++) { ds -= Math.log(counts[b[t]!]! / total); dn++; }
    perDomain[d] = Math.exp(ds / dn);
    s += ds;
    n += dn;
  }
  return { overall: Math.exp(s / n), perDomain };
}
