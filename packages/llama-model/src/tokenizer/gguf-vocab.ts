/**
 * A project tokenizer as llama.cpp's `tokenizer.ggml.*` metadata, so llama.cpp tokenises text as
 * the project does:
 *
 * - SentencePiece-style BPE with byte fallback (LLaMA-2: `▁` prefix + spaces → `▁`, no
 *   pre-tokenizer) → `tokenizer.ggml.model` = `llama`. llama.cpp's SPM tokenizer merges, at each
 *   step, the adjacent pair whose concatenation is the vocab token with the highest score; Hugging
 *   Face BPE merges the pair with the lowest merge rank. Scores are therefore the negated merge rank
 *   of the merge that creates each token (earlier merge = higher score), bytes `<0xXX>` are type
 *   BYTE (the fallback), `<unk>` UNKNOWN, special added tokens CONTROL.
 * - byte-level BPE with the Llama-3 split regex → `gpt2` with pre-tokenizer `llama-bpe`, the
 *   merges verbatim.
 *
 * Anything else is refused with the reason (a GGUF whose text llama.cpp would split differently is
 * not written). Token ids past the tokenizer up to the model's vocab_size become `[PAD<id>]`
 * (UNUSED), as convert_hf_to_gguf.py pads them.
 */
import { GgufError } from '../io/errors.js';
import { gguf, type GgufValue } from '../io/gguf-format.js';
import { LLAMA3_SPLIT_PATTERN } from './byte-level.js';
import type { BpeModelJson, ComponentJson } from './tokenizer-json.js';
import type { Tokenizer } from './tokenizer.js';

/** llama.cpp's llama_token_type (gguf TokenType). */
export const GGUF_TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export type GgufTokenizerModel = 'llama' | 'gpt2';

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function flatten(c: ComponentJson | null, listKey: string): ComponentJson[] {
  if (c === null) return [];
  if (c.type === 'Sequence' && Array.isArray(c[listKey])) return (c[listKey] as ComponentJson[]).flatMap((x) => flatten(x, listKey));
  return [c];
}

/** Which llama.cpp tokenizer model reproduces `tok`, or the reason none does. */
export function ggufTokenizerKind(tok: Tokenizer): { model: GgufTokenizerModel } | { reason: string } {
  const j = tok.tokenizerJson;
  const m = j.model as BpeModelJson;
  const norms = flatten(j.normalizer, 'normalizers');
  const pres = flatten(j.pre_tokenizer, 'pretokenizers');
  if (m.byte_fallback === true && pres.length === 0) {
    const ok =
      norms.length === 2 &&
      norms[0]!.type === 'Prepend' && norms[0]!.prepend === '▁' &&
      norms[1]!.type === 'Replace' && isObj(norms[1]!.pattern) && (norms[1]!.pattern as Record<string, unknown>).String === ' ' && norms[1]!.content === '▁';
    if (!ok) return { reason: `SentencePiece-style tokenizer with normalizer ${JSON.stringify(norms.map((n) => n.type))}: llama.cpp's 'llama' tokenizer only prepends '▁' and replaces spaces` };
    if (m.continuing_subword_prefix || m.end_of_word_suffix) return { reason: 'BPE with a subword prefix / word suffix has no llama.cpp equivalent' };
    return { model: 'llama' };
  }
  if (m.byte_fallback !== true && pres.some((p) => p.type === 'ByteLevel') && norms.length === 0) {
    const split = pres.filter((p) => p.type === 'Split');
    const bl = pres.filter((p) => p.type === 'ByteLevel');
    const regex = split.length === 1 && isObj(split[0]!.pattern) ? (split[0]!.pattern as Record<string, unknown>).Regex : undefined;
    if (split.length !== 1 || regex !== LLAMA3_SPLIT_PATTERN || split[0]!.behavior !== 'Isolated' || split[0]!.invert === true) {
      return { reason: 'byte-level BPE whose split regex is not Llama-3\'s: no llama.cpp pre-tokenizer is known to match it' };
    }
    if (bl.length !== 1 || bl[0]!.add_prefix_space === true || bl[0]!.use_regex === true) return { reason: 'byte-level BPE with add_prefix_space or its own regex: no llama.cpp pre-tokenizer matches it' };
    return { model: 'gpt2' };
  }
  return { reason: 'tokenizer is neither SentencePiece-style BPE with byte fallback nor Llama-3 byte-level BPE' };
}

function mergePair(m: string | [string, string]): [string, string] {
  if (Array.isArray(m)) return m;
  const i = m.indexOf(' ', 1);
  return [m.slice(0, i), m.slice(i + 1)];
}

/** `tokenizer.ggml.*` entries for `tok`, padded to `vocabSize` ids. */
export function ggufTokenizerMetadata(tok: Tokenizer, vocabSize: number, file = '<export>'): Array<[string, GgufValue]> {
  const kind = ggufTokenizerKind(tok);
  if ('reason' in kind) throw new GgufError(file, null, `tokenizer ${tok.path}: ${kind.reason}`);
  if (tok.vocabSize > vocabSize) throw new GgufError(file, null, `tokenizer ${tok.path} has ${tok.vocabSize} tokens but the model's vocab_size is ${vocabSize}`);
  const model = tok.tokenizerJson.model as BpeModelJson;
  const added = new Map(tok.tokenizerJson.added_tokens.map((a) => [a.id, a]));
  const tokens: string[] = [];
  const types = new Int32Array(vocabSize);
  const seen = new Set<string>();
  for (let id = 0; id < vocabSize; id++) {
    let t = id < tok.vocabSize ? tok.idToToken(id) : undefined;
    let type: number = GGUF_TOKEN_TYPE.NORMAL;
    if (t === undefined || seen.has(t)) {
      t = `[PAD${id}]`;
      type = GGUF_TOKEN_TYPE.UNUSED;
    } else if (id === tok.unkTokenId) type = GGUF_TOKEN_TYPE.UNKNOWN;
    else if (added.has(id)) type = added.get(id)!.special ? GGUF_TOKEN_TYPE.CONTROL : GGUF_TOKEN_TYPE.USER_DEFINED;
    else if (kind.model === 'llama' && /^<0x[0-9A-F]{2}>$/.test(t)) type = GGUF_TOKEN_TYPE.BYTE;
    seen.add(t);
    tokens.push(t);
    types[id] = type;
  }
  const md: Array<[string, GgufValue]> = [['tokenizer.ggml.model', gguf.str(kind.model)]];
  if (kind.model === 'gpt2') md.push(['tokenizer.ggml.pre', gguf.str('llama-bpe')]);
  md.push(['tokenizer.ggml.tokens', gguf.strings(tokens)]);
  if (kind.model === 'llama') {
    const scores = new Float32Array(vocabSize);
    const nMerges = model.merges.length;
    // Tokens no merge creates (single characters, bytes, specials) rank below every merge.
    scores.fill(-(nMerges + 1));
    const done = new Set<number>();
    model.merges.forEach((m, r) => {
      const [a, b] = mergePair(m);
      const id = tok.tokenToId(a + b);
      if (id !== undefined && id < vocabSize && !done.has(id)) {
        scores[id] = -r;
        done.add(id);
      }
    });
    for (let id = 0; id < vocabSize; id++) if (types[id] === GGUF_TOKEN_TYPE.BYTE || types[id] === GGUF_TOKEN_TYPE.CONTROL || types[id] === GGUF_TOKEN_TYPE.UNKNOWN) scores[id] = 0;
    md.push(['tokenizer.ggml.scores', gguf.f32s(scores)]);
  }
  md.push(['tokenizer.ggml.token_type', gguf.i32s(types)]);
  if (kind.model === 'gpt2') md.push(['tokenizer.ggml.merges', gguf.strings(model.merges.map((m) => mergePair(m).join(' ')))]);
  if (tok.bosTokenId !== null) md.push(['tokenizer.ggml.bos_token_id', gguf.u32(tok.bosTokenId)]);
  if (tok.eosTokenId !== null) md.push(['tokenizer.ggml.eos_token_id', gguf.u32(tok.eosTokenId)]);
  if (tok.unkTokenId !== null) md.push(['tokenizer.ggml.unknown_token_id', gguf.u32(tok.unkTokenId)]);
  if (tok.padTokenId !== null) md.push(['tokenizer.ggml.padding_token_id', gguf.u32(tok.padTokenId)]);
  md.push(['tokenizer.ggml.add_bos_token', gguf.bool(tok.addBosToken)], ['tokenizer.ggml.add_eos_token', gguf.bool(tok.addEosToken)]);
  if (kind.model === 'llama') md.push(['tokenizer.ggml.add_space_prefix', gguf.bool(true)]);
  return md;
}
