import { encodeIds, decodeIds } from './codec.js';
import { DataError, WeightError } from './errors.js';
import { Packer, encodeDocument, type PackOptions, type PackedBlock, type RemainderPolicy } from './pack.js';
import type { ReaderCursor } from './readers/types.js';
import { Rng, type RngState } from './rng.js';
import { checkSource, openUnit, sourceUnits, type DomainSource, type SourceRecord } from './source.js';
import type { Tokenizer } from './tokenizer.js';

/** Plain-JSON state of one domain stream: everything needed to continue it exactly. */
export interface DomainStreamState {
  name: string;
  epoch: number;
  /** Unit (file) indices in this epoch's read order. */
  fileOrder: number[];
  /** Position in fileOrder of the unit being read. */
  filePos: number;
  /** Cursor inside that unit (null: its beginning / its start cursor). */
  cursor: ReaderCursor | null;
  /** Every unit of this epoch has been read into the shuffle buffer. */
  readerDone: boolean;
  /** Shuffle buffer: token ids of buffered documents, base64 Int32. */
  buffer: string[];
  /** Packer carry (tokens not yet in a block), base64 Int32. */
  carry: string;
  rng: RngState;
  docsThisEpoch: number;
  blocksThisEpoch: number;
  /** Totals since the start of the run. */
  documents: number;
  tokens: number;
  blocks: number;
}

export interface DomainStreamOptions extends PackOptions {
  tokenizer?: Tokenizer;
  /** Documents held for shuffling (LLaMA-MoE: 200). 1 = no shuffling. Default 200. */
  shuffleBuffer?: number;
  /** Reshuffle the file order each epoch. Default true. */
  shuffleFiles?: boolean;
  seed: number | string;
}

/**
 * An endless stream of packed blocks from one domain: files → documents → shuffle buffer →
 * tokens → blocks of seqLen. When the domain runs out it applies the remainder policy and
 * starts a new epoch (new file order, new shuffle draws from the same RNG).
 */
export class DomainStream {
  readonly source: DomainSource;
  readonly units: string[];
  private readonly tok: Tokenizer | undefined;
  private readonly pack: Required<PackOptions>;
  private readonly bufferSize: number;
  private readonly shuffleFiles: boolean;
  private rng: Rng;
  private packer: Packer;
  private gen: AsyncGenerator<SourceRecord> | null = null;
  private buffer: Int32Array[] = [];
  private epoch = 0;
  private fileOrder: number[] = [];
  private filePos = 0;
  private cursor: ReaderCursor | null = null;
  private readerDone = false;
  private docsThisEpoch = 0;
  private blocksThisEpoch = 0;
  private documents = 0;
  private tokens = 0;
  private blocks = 0;

  constructor(source: DomainSource, o: DomainStreamOptions, state?: DomainStreamState) {
    checkSource(source);
    this.source = source;
    this.units = sourceUnits(source);
    if (source.format !== 'tokens' && !o.tokenizer) throw new DataError('argument', `tokenizer: domain "${source.name}" holds text, so a tokenizer is required`);
    this.tok = o.tokenizer;
    this.pack = { seqLen: o.seqLen, addBos: o.addBos ?? true, addEos: o.addEos ?? false, remainder: o.remainder ?? 'drop', padId: o.padId ?? 0 };
    this.bufferSize = o.shuffleBuffer ?? 200;
    if (!Number.isInteger(this.bufferSize) || this.bufferSize < 1) throw new DataError('argument', `shuffleBuffer: must be an integer >= 1, got ${o.shuffleBuffer}`);
    this.shuffleFiles = o.shuffleFiles ?? true;
    if (state) {
      if (state.name !== source.name) throw new DataError('state', `resume: state is for domain "${state.name}", source is "${source.name}"`);
      this.rng = Rng.fromState(state.rng);
      this.packer = new Packer(this.pack, decodeIds(state.carry));
      this.buffer = state.buffer.map((b) => decodeIds(b));
      this.epoch = state.epoch;
      this.fileOrder = [...state.fileOrder];
      if (this.fileOrder.some((i) => !(i >= 0 && i < this.units.length))) {
        throw new DataError('state', `resume: domain "${source.name}" state refers to ${Math.max(...state.fileOrder) + 1} files, source has ${this.units.length}`);
      }
      this.filePos = state.filePos;
      this.cursor = state.cursor;
      this.readerDone = state.readerDone;
      this.docsThisEpoch = state.docsThisEpoch;
      this.blocksThisEpoch = state.blocksThisEpoch;
      this.documents = state.documents;
      this.tokens = state.tokens;
      this.blocks = state.blocks;
    } else {
      this.rng = Rng.seeded(o.seed, `domain/${source.name}`);
      this.packer = new Packer(this.pack);
      this.startEpoch(0);
    }
  }

  get name(): string {
    return this.source.name;
  }

  get remainder(): RemainderPolicy {
    return this.pack.remainder;
  }

  private startEpoch(e: number): void {
    this.epoch = e;
    this.fileOrder = this.units.map((_, i) => i);
    if (this.shuffleFiles) this.rng.shuffle(this.fileOrder);
    this.filePos = 0;
    this.cursor = null;
    this.readerDone = false;
    this.docsThisEpoch = 0;
    this.blocksThisEpoch = 0;
  }

  /** Next document's ids in file order, or null when this epoch's units are exhausted. */
  private async readDoc(): Promise<Int32Array | null> {
    while (this.filePos < this.fileOrder.length) {
      if (!this.gen) this.gen = openUnit(this.source, this.units[this.fileOrder[this.filePos]!]!, this.cursor);
      const r = await this.gen.next();
      if (r.done) {
        this.gen = null;
        this.filePos++;
        this.cursor = null;
        continue;
      }
      this.cursor = r.value.cursor;
      const ids = r.value.inputIds ?? encodeDocument(this.tok!, r.value.text ?? '', this.pack);
      return ids;
    }
    return null;
  }

  /** Next document from the shuffle buffer (filled to capacity first), or null at epoch end. */
  private async nextDoc(): Promise<Int32Array | null> {
    while (!this.readerDone && this.buffer.length < this.bufferSize) {
      const d = await this.readDoc();
      if (d === null) this.readerDone = true;
      else this.buffer.push(d);
    }
    if (this.buffer.length === 0) return null;
    const j = this.rng.nextInt(this.buffer.length);
    const last = this.buffer.length - 1;
    const doc = this.buffer[j]!;
    this.buffer[j] = this.buffer[last]!;
    this.buffer.pop();
    return doc;
  }

  /**
   * The next packed block. Endless by default; with `stopAtEpochEnd` returns null once the
   * current epoch (one pass over the domain) is finished, remainder included.
   */
  async nextBlock(stopAtEpochEnd = false): Promise<PackedBlock | null> {
    for (;;) {
      const b = this.packer.take();
      if (b) return this.count(b);
      const doc = await this.nextDoc();
      if (doc) {
        this.docsThisEpoch++;
        this.documents++;
        this.tokens += doc.length;
        this.packer.append(doc);
        continue;
      }
      // Epoch end.
      if (this.docsThisEpoch === 0) {
        throw new WeightError('domain', this.name, `domain "${this.name}" is empty: its ${this.units.length} file(s) hold no documents; add data or drop the domain`);
      }
      const rest = this.packer.flush();
      const hadBlocks = this.blocksThisEpoch > 0 || rest.length > 0;
      if (!hadBlocks) {
        throw new WeightError('domain', this.name, `domain "${this.name}" has fewer than seqLen=${this.pack.seqLen} tokens in a whole pass, so remainder 'drop' never yields a block; add data, lower seqLen or use remainder 'pad'`);
      }
      if (stopAtEpochEnd) {
        if (rest.length) return this.count(rest[0]!);
        this.startEpoch(this.epoch + 1);
        return null;
      }
      this.startEpoch(this.epoch + 1);
      if (rest.length) return this.count(rest[0]!);
    }
  }

  private count(b: PackedBlock): PackedBlock {
    this.blocksThisEpoch++;
    this.blocks++;
    return b;
  }

  stats(): { documents: number; tokens: number; blocks: number; epoch: number } {
    return { documents: this.documents, tokens: this.tokens, blocks: this.blocks, epoch: this.epoch };
  }

  state(): DomainStreamState {
    return {
      name: this.name,
      epoch: this.epoch,
      fileOrder: [...this.fileOrder],
      filePos: this.filePos,
      cursor: this.cursor ? { ...this.cursor } : null,
      readerDone: this.readerDone,
      buffer: this.buffer.map(encodeIds),
      carry: encodeIds(this.packer.carry()),
      rng: this.rng.state(),
      docsThisEpoch: this.docsThisEpoch,
      blocksThisEpoch: this.blocksThisEpoch,
      documents: this.documents,
      tokens: this.tokens,
      blocks: this.blocks,
    };
  }

  /** Closes the open file, if any. */
  async close(): Promise<void> {
    const g = this.gen;
    this.gen = null;
    if (g) await g.return(undefined);
  }
}
