import { DataError, WeightError } from './errors.js';
import { Packer, checkPackOptions, encodeDocument, type PackOptions } from './pack.js';
import type { ReaderCursor } from './readers/types.js';
import { DOCUMENTS_KEY, checkSource, openUnit, sourceUnits, type DomainSource } from './source.js';
import type { Tokenizer } from './tokenizer.js';

export interface HoldoutResult {
  /** Per domain: the first N packed blocks, each [seqLen], read in file order without shuffling. */
  validation: Record<string, Int32Array[]>;
  /** The same sources minus every document that contributed to a validation block. */
  train: DomainSource[];
}

/**
 * Per-domain validation split: hold out the first `blocksPerDomain` packed blocks of each domain
 * (files in listed order, no shuffle) and return training sources that start after the last
 * document used. The document that completes block N is held out whole; its tail is discarded
 * rather than leaking into training. With `allowFewer`, a domain shorter than that gives all its
 * blocks, and `train` may then be empty (evaluation only).
 */
export async function holdoutValidation(o: PackOptions & {
  sources: DomainSource[];
  tokenizer?: Tokenizer;
  blocksPerDomain: number;
  /** At most `blocksPerDomain`: a domain with fewer (but at least one) keeps all it has (evaluating a whole split). */
  allowFewer?: boolean;
}): Promise<HoldoutResult> {
  const pack = checkPackOptions(o);
  if (!Number.isInteger(o.blocksPerDomain) || o.blocksPerDomain < 1) throw new DataError('argument', `blocksPerDomain: must be a positive integer, got ${o.blocksPerDomain}`);
  const validation: Record<string, Int32Array[]> = {};
  const train: DomainSource[] = [];
  for (const s of o.sources) {
    checkSource(s);
    if (s.format !== 'tokens' && !o.tokenizer) throw new DataError('argument', `tokenizer: domain "${s.name}" holds text, so a tokenizer is required`);
    const units = sourceUnits(s);
    const packer = new Packer({ ...pack, remainder: 'drop' });
    const blocks: Int32Array[] = [];
    let lastUnit = -1;
    let lastCursor: ReaderCursor | null = null;
    outer: for (let u = 0; u < units.length; u++) {
      const gen = openUnit(s, units[u]!, null);
      try {
        for await (const r of gen) {
          const ids = r.inputIds ?? encodeDocument(o.tokenizer!, r.text ?? '', pack);
          for (const b of packer.push(ids)) if (blocks.length < o.blocksPerDomain) blocks.push(b.inputIds);
          lastUnit = u;
          lastCursor = r.cursor;
          if (blocks.length >= o.blocksPerDomain) break outer;
        }
      } finally {
        await gen.return(undefined);
      }
    }
    if (blocks.length < o.blocksPerDomain && !(o.allowFewer && blocks.length > 0)) {
      throw new WeightError('domain', s.name, `holdout: domain "${s.name}" has only ${blocks.length} block(s) of ${pack.seqLen} tokens, fewer than the ${o.blocksPerDomain} to hold out; lower blocksPerDomain or add data`);
    }
    validation[s.name] = blocks;
    // Training keeps the rest of the unit that held the last validation document, then later units.
    const startCursors = { ...(s.startCursors ?? {}) };
    const unit = units[lastUnit]!;
    startCursors[unit] = lastCursor!;
    let rest: DomainSource;
    if (unit === DOCUMENTS_KEY) {
      const docs = s.documents!.slice(lastCursor!.row);
      rest = { ...s, documents: docs, startCursors: undefined };
    } else {
      rest = { ...s, files: units.slice(lastUnit), startCursors };
    }
    if (!o.allowFewer && (rest.files?.length ?? 0) === 0 && (rest.documents?.length ?? 0) === 0) {
      throw new WeightError('domain', s.name, `holdout: domain "${s.name}" has no documents left for training after holding out ${o.blocksPerDomain} block(s); lower blocksPerDomain`);
    }
    train.push(rest);
  }
  return { validation, train };
}
