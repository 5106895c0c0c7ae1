import { DataError } from './errors.js';
import type { Tokenizer } from './tokenizer.js';

/**
 * Tokenise-and-pack, as LLaMA-MoE does for continual pre-training: each document becomes
 * [BOS, ...tokens, (EOS)], documents are concatenated, and the stream is cut into blocks of
 * exactly `seqLen` tokens (documents freely straddle block boundaries; LLaMA-MoE uses 4096).
 */
export type RemainderPolicy = 'drop' | 'pad' | 'keep';

export interface PackOptions {
  seqLen: number;
  /** Append EOS after each document. Default false (LLaMA-MoE relies on BOS as the separator). */
  addEos?: boolean;
  /** Prepend BOS to each document. Default true. */
  addBos?: boolean;
  /** What to do with the last partial block of a stream: drop it, pad it (with a loss mask) or keep it short. Default 'drop'. */
  remainder?: RemainderPolicy;
  /** Pad id for remainder 'pad'. Default 0. */
  padId?: number;
}

export interface PackedBlock {
  /** [T] with T = seqLen, or shorter for a 'keep' remainder. */
  inputIds: Int32Array;
  /** [T] 1 where the token is real, 0 where padded; present only on padded blocks. */
  lossMask?: Uint8Array;
}

export function checkPackOptions(o: PackOptions): Required<PackOptions> {
  if (!Number.isInteger(o.seqLen) || o.seqLen < 1) throw new DataError('argument', `seqLen: must be a positive integer, got ${o.seqLen}`);
  const remainder = o.remainder ?? 'drop';
  if (remainder !== 'drop' && remainder !== 'pad' && remainder !== 'keep') {
    throw new DataError('argument', `remainder: must be 'drop' | 'pad' | 'keep', got ${JSON.stringify(remainder)}`);
  }
  const padId = o.padId ?? 0;
  if (!Number.isInteger(padId)) throw new DataError('argument', `padId: must be an integer, got ${padId}`);
  return { seqLen: o.seqLen, addEos: o.addEos ?? false, addBos: o.addBos ?? true, remainder, padId };
}

/** [BOS?, ...encode(text), EOS?] as an Int32Array. */
export function encodeDocument(tok: Tokenizer, text: string, o: { addBos?: boolean; addEos?: boolean }): Int32Array {
  const ids = tok.encode(text);
  const bos = o.addBos ?? true;
  const eos = o.addEos ?? false;
  /** [L + bos + eos] */
  const out = new Int32Array(ids.length + (bos ? 1 : 0) + (eos ? 1 : 0));
  let k = 0;
  if (bos) out[k++] = tok.bosTokenId;
  for (let i = 0; i < ids.length; i++) out[k++] = ids[i]!;
  if (eos) out[k++] = tok.eosTokenId;
  return out;
}

/**
 * Streaming packer. Holds at most seqLen - 1 carried tokens between pushes (plus the pushed doc).
 * Its state (the carry) is plain data so a sampler can serialise it.
 */
export class Packer {
  readonly seqLen: number;
  readonly remainder: RemainderPolicy;
  readonly padId: number;
  /** [capacity] growable token buffer; the first `len` entries are the carry. */
  private buf: Int32Array;
  private len = 0;

  constructor(o: PackOptions, carry?: ArrayLike<number>) {
    const c = checkPackOptions(o);
    this.seqLen = c.seqLen;
    this.remainder = c.remainder;
    this.padId = c.padId;
    this.buf = new Int32Array(Math.max(16, c.seqLen * 2));
    if (carry) this.append(carry);
  }

  /** Appends ids to the carry without cutting blocks (pair with `take`). */
  append(ids: ArrayLike<number>): void {
    if (this.len + ids.length > this.buf.length) {
      const next = new Int32Array(Math.max(this.buf.length * 2, this.len + ids.length));
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    this.buf.set(ids as ArrayLike<number>, this.len);
    this.len += ids.length;
  }

  /** Number of carried tokens (< seqLen after `push`; may be more after `append`). */
  get pending(): number {
    return this.len;
  }

  /** Carried tokens, copied. */
  carry(): Int32Array {
    return this.buf.slice(0, this.len);
  }

  /** One full block from the front of the carry, or null when fewer than seqLen tokens are held. */
  take(): PackedBlock | null {
    if (this.len < this.seqLen) return null;
    const block = this.buf.slice(0, this.seqLen);
    this.buf.copyWithin(0, this.seqLen, this.len);
    this.len -= this.seqLen;
    return { inputIds: block };
  }

  /** Adds one document's ids; returns every block completed by it. */
  push(ids: ArrayLike<number>): PackedBlock[] {
    this.append(ids);
    const out: PackedBlock[] = [];
    let off = 0;
    while (this.len - off >= this.seqLen) {
      out.push({ inputIds: this.buf.slice(off, off + this.seqLen) });
      off += this.seqLen;
    }
    if (off > 0) {
      this.buf.copyWithin(0, off, this.len);
      this.len -= off;
    }
    return out;
  }

  /** End of stream: applies the remainder policy to the carry and clears it. */
  flush(): PackedBlock[] {
    const n = this.len;
    this.len = 0;
    if (n === 0 || this.remainder === 'drop') return [];
    const ids = this.buf.slice(0, n);
    if (this.remainder === 'keep') return [{ inputIds: ids }];
    /** [seqLen] */
    const padded = new Int32Array(this.seqLen).fill(this.padId);
    padded.set(ids);
    /** [seqLen] */
    const mask = new Uint8Array(this.seqLen);
    mask.fill(1, 0, n);
    return [{ inputIds: padded, lossMask: mask }];
  }
}

/** Finite convenience: tokenise and pack a list of documents. */
export function packDocuments(tok: Tokenizer, docs: Iterable<string>, o: PackOptions): PackedBlock[] {
  const c = checkPackOptions(o);
  const p = new Packer(c);
  const out: PackedBlock[] = [];
  for (const d of docs) for (const b of p.push(encodeDocument(tok, d, c))) out.push(b);
  for (const b of p.flush()) out.push(b);
  return out;
}
