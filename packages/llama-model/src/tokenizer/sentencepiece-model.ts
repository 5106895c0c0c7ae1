/**
 * `tokenizer.model` (a SentencePiece ModelProto, protobuf) for a SentencePiece-style BPE tokenizer
 * with byte fallback, so tools that read the SentencePiece file — transformers' slow
 * LlamaTokenizer, llama.cpp's convert_hf_to_gguf.py (`_create_vocab_sentencepiece`) — see the same
 * pieces, scores and types as the GGUF export writes: SentencePiece's BPE merges the adjacent pair
 * whose concatenation is the highest-scoring piece (leftmost on ties), like llama.cpp's `llama`
 * tokenizer, so each piece's score is minus the rank of the merge that creates it.
 *
 * Fields (src/sentencepiece_model.proto): ModelProto.pieces = 1 {piece = 1, score = 2, type = 3},
 * trainer_spec = 2 {model_type = 3 (BPE = 2), vocab_size = 4, byte_fallback = 35, unk_id = 40,
 * bos_id = 41, eos_id = 42, pad_id = 43}, normalizer_spec = 3 {name = 1, add_dummy_prefix = 3,
 * remove_extra_whitespaces = 4, escape_whitespaces = 5}.
 */
import { TokenizerError } from './errors.js';
import { ggufTokenizerKind, ggufTokenizerMetadata } from './gguf-vocab.js';
import type { Tokenizer } from './tokenizer.js';

class Pb {
  private parts: number[] = [];
  varint(v: number | bigint): this {
    let x = BigInt.asUintN(64, BigInt(v));
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x > 0n) b |= 0x80;
      this.parts.push(b);
    } while (x > 0n);
    return this;
  }
  key(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }
  int(field: number, v: number | boolean): this {
    return this.key(field, 0).varint(typeof v === 'boolean' ? (v ? 1 : 0) : v);
  }
  bytes(field: number, b: Uint8Array): this {
    this.key(field, 2).varint(b.byteLength);
    for (const x of b) this.parts.push(x);
    return this;
  }
  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  float(field: number, f: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, f, true);
    for (const x of b) this.parts.push(x);
    return this;
  }
  msg(field: number, m: Pb): this {
    return this.bytes(field, m.done());
  }
  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** The tokenizer.model bytes for `tok`, or throws TokenizerError naming why it is not SentencePiece-compatible. */
export function sentencePieceModelBytes(tok: Tokenizer): Uint8Array {
  const kind = ggufTokenizerKind(tok);
  if ('reason' in kind || kind.model !== 'llama') {
    throw new TokenizerError('unsupported', tok.path, `no tokenizer.model: ${'reason' in kind ? kind.reason : 'a byte-level BPE is not a SentencePiece model'}`);
  }
  const md = new Map(ggufTokenizerMetadata(tok, tok.vocabSize, tok.path));
  const tokens = (md.get('tokenizer.ggml.tokens') as { value: readonly string[] }).value;
  const scores = (md.get('tokenizer.ggml.scores') as { value: ArrayLike<number> }).value;
  const types = (md.get('tokenizer.ggml.token_type') as { value: ArrayLike<number> }).value;
  const m = new Pb();
  for (let i = 0; i < tokens.length; i++) m.msg(1, new Pb().str(1, tokens[i]!).float(2, scores[i]!).int(3, types[i]!));
  const trainer = new Pb().int(3, 2).int(4, tokens.length).int(35, true).int(40, tok.unkTokenId ?? -1).int(41, tok.bosTokenId ?? -1).int(42, tok.eosTokenId ?? -1).int(43, tok.padTokenId ?? -1);
  m.msg(2, trainer);
  m.msg(3, new Pb().str(1, 'identity').int(3, true).int(4, false).int(5, true));
  return m.done();
}

/** The parts of a tokenizer.model this module writes, read back (tests, inspection). */
export function parseSentencePieceModel(bytes: Uint8Array): { pieces: { piece: string; score: number; type: number }[]; trainer: Record<number, number>; normalizer: Record<number, number | string> } {
  let pos = 0;
  const varint = (b: Uint8Array): bigint => {
    let x = 0n, s = 0n;
    for (;;) {
      const c = b[pos++]!;
      x |= BigInt(c & 0x7f) << s;
      if (!(c & 0x80)) return x;
      s += 7n;
    }
  };
  const fields = (b: Uint8Array): Array<[number, bigint | Uint8Array | number]> => {
    const save = pos;
    pos = 0;
    const out: Array<[number, bigint | Uint8Array | number]> = [];
    while (pos < b.byteLength) {
      const k = Number(varint(b));
      const f = k >> 3, w = k & 7;
      if (w === 0) out.push([f, varint(b)]);
      else if (w === 2) {
        const n = Number(varint(b));
        out.push([f, b.subarray(pos, pos + n)]);
        pos += n;
      } else if (w === 5) {
        out.push([f, new DataView(b.buffer, b.byteOffset + pos, 4).getFloat32(0, true)]);
        pos += 4;
      } else throw new RangeError(`wire type ${w}`);
    }
    pos = save;
    return out;
  };
  const dec = new TextDecoder();
  const pieces: { piece: string; score: number; type: number }[] = [];
  const trainer: Record<number, number> = {};
  const normalizer: Record<number, number | string> = {};
  for (const [f, v] of fields(bytes)) {
    if (f === 1) {
      const p = { piece: '', score: 0, type: 1 };
      for (const [g, x] of fields(v as Uint8Array)) {
        if (g === 1) p.piece = dec.decode(x as Uint8Array);
        else if (g === 2) p.score = x as number;
        else if (g === 3) p.type = Number(x);
      }
      pieces.push(p);
    } else if (f === 2) for (const [g, x] of fields(v as Uint8Array)) trainer[g] = Number(BigInt.asIntN(32, x as bigint));
    else if (f === 3) for (const [g, x] of fields(v as Uint8Array)) normalizer[g] = x instanceof Uint8Array ? dec.decode(x) : Number(x);
  }
  return { pieces, trainer, normalizer };
}
