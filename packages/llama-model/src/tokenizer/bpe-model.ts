/**
 * Native BPE model: the `model` half of a Hugging Face BPE tokenizer.json, run the way the Rust
 * `tokenizers` crate runs it (`BPE::merge_word`): split the pre-token into characters, map unknown
 * characters to `<0xXX>` byte tokens (byte_fallback) or `unk_token`, then repeatedly apply the
 * lowest-ranked merge, leftmost first. Used by the native engine and by the trainer's self-checks;
 * it is the independent implementation the @huggingface/tokenizers engine is verified against.
 */
import { TokenizerError } from './errors.js';
import type { BpeModelJson } from './tokenizer-json.js';

/** Pair key for two token ids; ids stay below 2^21, so the key is an exact double. */
const pairKey = (a: number, b: number): number => a * 2097152 + b;

/** `<0x0A>` style byte token text, as SentencePiece and the Rust crate spell it. */
export function byteTokenName(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
}

interface MergeTarget {
  rank: number;
  id: number;
}

/** Min-heap of candidate merges ordered by (rank, position). */
class MergeHeap {
  /** Flattened triples [rank, pos, id]. */
  private data: number[] = [];
  get size(): number {
    return this.data.length / 3;
  }
  private less(i: number, j: number): boolean {
    const d = this.data;
    return d[3 * i]! < d[3 * j]! || (d[3 * i] === d[3 * j] && d[3 * i + 1]! < d[3 * j + 1]!);
  }
  private swap(i: number, j: number): void {
    const d = this.data;
    for (let k = 0; k < 3; k++) {
      const t = d[3 * i + k]!;
      d[3 * i + k] = d[3 * j + k]!;
      d[3 * j + k] = t;
    }
  }
  push(rank: number, pos: number, id: number): void {
    this.data.push(rank, pos, id);
    let i = this.size - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  /** Pops the smallest entry into `out` ([rank, pos, id]). */
  pop(out: number[]): void {
    const d = this.data;
    out[0] = d[0]!;
    out[1] = d[1]!;
    out[2] = d[2]!;
    const last = this.size - 1;
    if (last > 0) {
      d[0] = d[3 * last]!;
      d[1] = d[3 * last + 1]!;
      d[2] = d[3 * last + 2]!;
    }
    d.length = 3 * last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < last && this.less(l, m)) m = l;
      if (r < last && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }
}

export class BpeModel {
  /** token → id (the model vocab only; added tokens live in the pipeline). */
  readonly vocab: Map<string, number>;
  /** id → token. */
  readonly idToToken: string[];
  readonly unkToken: string | null;
  readonly unkId: number | null;
  readonly byteFallback: boolean;
  readonly fuseUnk: boolean;
  readonly ignoreMerges: boolean;
  private readonly merges = new Map<number, MergeTarget>();
  /** `byteIds[b]`: id of `<0xXX>`, or -1 when the vocab lacks it. [256] */
  private readonly byteIds: Int32Array;
  private readonly utf8 = new TextEncoder();
  /** The tokenizer.json this model came from, for error messages. */
  readonly file: string;

  constructor(model: BpeModelJson, file: string) {
    this.file = file;
    if (model.dropout !== null && model.dropout !== undefined && model.dropout !== 0) {
      throw new TokenizerError('unsupported', file, `model.dropout ${model.dropout}: BPE dropout is a training-time feature; set it to null`);
    }
    if (model.continuing_subword_prefix || model.end_of_word_suffix) {
      throw new TokenizerError('unsupported', file, 'model.continuing_subword_prefix / end_of_word_suffix are not used by LLaMA tokenizers and are not supported');
    }
    if (model.vocab === null || typeof model.vocab !== 'object' || Array.isArray(model.vocab)) {
      throw new TokenizerError('invalid', file, 'model.vocab must be an object {token: id}');
    }
    if (!Array.isArray(model.merges)) throw new TokenizerError('invalid', file, 'model.merges must be an array');
    this.vocab = new Map();
    this.idToToken = [];
    for (const [tok, id] of Object.entries(model.vocab)) {
      if (!Number.isInteger(id) || id < 0 || id >= 2097152) {
        throw new TokenizerError('invalid', file, `model.vocab['${tok}'] = ${String(id)} is not a token id in [0, 2^21)`);
      }
      if (this.idToToken[id] !== undefined) {
        throw new TokenizerError('invalid', file, `model.vocab gives id ${id} to both '${this.idToToken[id]}' and '${tok}'`);
      }
      this.vocab.set(tok, id);
      this.idToToken[id] = tok;
    }
    this.unkToken = model.unk_token ?? null;
    this.unkId = this.unkToken === null ? null : (this.vocab.get(this.unkToken) ?? null);
    if (this.unkToken !== null && this.unkId === null) {
      throw new TokenizerError('invalid', file, `model.unk_token '${this.unkToken}' is not in model.vocab`);
    }
    this.byteFallback = model.byte_fallback === true;
    this.fuseUnk = model.fuse_unk === true;
    this.ignoreMerges = model.ignore_merges === true;
    this.byteIds = new Int32Array(256).fill(-1);
    for (let b = 0; b < 256; b++) this.byteIds[b] = this.vocab.get(byteTokenName(b)) ?? -1;
    model.merges.forEach((m, rank) => {
      let a: string;
      let b: string;
      if (typeof m === 'string') {
        const parts = m.split(' ');
        if (parts.length !== 2) throw new TokenizerError('invalid', file, `model.merges[${rank}] '${m}' is not "left right"`);
        [a, b] = parts as [string, string];
      } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') {
        [a, b] = m;
      } else {
        throw new TokenizerError('invalid', file, `model.merges[${rank}] is neither "left right" nor [left, right]`);
      }
      const ia = this.vocab.get(a);
      const ib = this.vocab.get(b);
      const im = this.vocab.get(a + b);
      if (ia === undefined || ib === undefined || im === undefined) {
        const missing = ia === undefined ? a : ib === undefined ? b : a + b;
        throw new TokenizerError('invalid', file, `model.merges[${rank}] (${JSON.stringify(a)}, ${JSON.stringify(b)}): token ${JSON.stringify(missing)} is not in model.vocab`);
      }
      const key = pairKey(ia, ib);
      // The Rust crate keeps the first (lowest-rank) occurrence of a duplicated merge.
      if (!this.merges.has(key)) this.merges.set(key, { rank, id: im });
    });
  }

  /** Ids of one pre-token (no added tokens inside). */
  encodeWord(word: string, out: number[] = []): number[] {
    if (word.length === 0) return out;
    if (this.ignoreMerges) {
      const whole = this.vocab.get(word);
      if (whole !== undefined) {
        out.push(whole);
        return out;
      }
    }
    // Initial symbols: one per code point, byte tokens for characters outside the vocab.
    const ids: number[] = [];
    let lastWasUnk = false;
    for (const ch of word) {
      const id = this.vocab.get(ch);
      if (id !== undefined) {
        ids.push(id);
        lastWasUnk = false;
        continue;
      }
      if (this.byteFallback) {
        const bytes = this.utf8.encode(ch);
        let all = true;
        for (const b of bytes) if (this.byteIds[b]! < 0) all = false;
        if (all) {
          for (const b of bytes) ids.push(this.byteIds[b]!);
          lastWasUnk = false;
          continue;
        }
      }
      if (this.unkId === null) {
        throw new TokenizerError('invalid', this.file, `character ${JSON.stringify(ch)} is not in the vocab and the model has no unk_token`);
      }
      if (!(this.fuseUnk && lastWasUnk)) ids.push(this.unkId);
      lastWasUnk = true;
    }
    if (ids.length === 1) {
      out.push(ids[0]!);
      return out;
    }
    // Doubly linked list over `ids`; merged-away symbols get id -1.
    const n = ids.length;
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    const heap = new MergeHeap();
    for (let i = 0; i + 1 < n; i++) {
      const m = this.merges.get(pairKey(ids[i]!, ids[i + 1]!));
      if (m) heap.push(m.rank, i, m.id);
    }
    const top = [0, 0, 0];
    while (heap.size > 0) {
      heap.pop(top);
      const pos = top[1]!;
      const j = next[pos]!;
      if (ids[pos]! < 0 || j < 0) continue;
      // Stale entry: the pair at `pos` changed since it was queued.
      const m = this.merges.get(pairKey(ids[pos]!, ids[j]!));
      if (!m || m.id !== top[2] || m.rank !== top[0]) continue;
      ids[pos] = m.id;
      ids[j] = -1;
      const k = next[j]!;
      next[pos] = k;
      if (k >= 0) prev[k] = pos;
      const p = prev[pos]!;
      if (p >= 0) {
        const mp = this.merges.get(pairKey(ids[p]!, ids[pos]));
        if (mp) heap.push(mp.rank, p, mp.id);
      }
      if (k >= 0) {
        const mn = this.merges.get(pairKey(ids[pos], ids[k]!));
        if (mn) heap.push(mn.rank, pos, mn.id);
      }
    }
    for (let i = 0; i >= 0; i = next[i]!) out.push(ids[i]!);
    return out;
  }
}
