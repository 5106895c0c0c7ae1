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
import type { AddedTokenJson, BpeModelJson, ComponentJson, TokenizerConfigJson, TokenizerJson } from './tokenizer-json.js';
import type { Tokenizer, TokenizerFiles } from './tokenizer.js';

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
    if (m.ignore_merges !== true) return { reason: "llama.cpp's llama-bpe pre-tokenizer takes a word that is a whole token directly (ignore_merges); this tokenizer has ignore_merges false" };
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

/**
 * Hugging Face tokenizer files rebuilt from a GGUF's `tokenizer.ggml.*` metadata, so a GGUF can be
 * a source for text commands: `gpt2` + `llama-bpe` → Llama-3 byte-level BPE with the merges
 * verbatim; `llama` (SentencePiece) → BPE with byte fallback whose merges are every split (a, b) of
 * a token into two tokens, ranked by the token's score (what llama.cpp's SPM tokenizer merges
 * by). Returns null when the file has no vocabulary, or throws GgufError for one this cannot rebuild.
 */
export function ggufTokenizerFiles(metadata: ReadonlyMap<string, GgufValue>, file: string): TokenizerFiles | null {
  const get = (k: string) => metadata.get(k);
  const modelV = get('tokenizer.ggml.model');
  if (modelV === undefined) return null;
  const model = modelV.type === 'STRING' ? modelV.value : '';
  const tokensV = get('tokenizer.ggml.tokens');
  if (tokensV?.type !== 'ARRAY' || tokensV.itemType !== 'STRING') throw new GgufError(file, null, "metadata 'tokenizer.ggml.tokens' must be an array of strings");
  const tokens = tokensV.value;
  const typesV = get('tokenizer.ggml.token_type');
  const types = typesV?.type === 'ARRAY' && typesV.itemType !== 'STRING' && typesV.itemType !== 'BOOL' && typesV.itemType !== 'UINT64' && typesV.itemType !== 'INT64' ? typesV.value : null;
  if (types && types.length !== tokens.length) throw new GgufError(file, null, `metadata 'tokenizer.ggml.token_type' has ${types.length} entries for ${tokens.length} tokens`);
  const typeOf = (i: number): number => (types ? Number(types[i]) : GGUF_TOKEN_TYPE.NORMAL);
  const id = (k: string): number | null => {
    const v = get(k);
    return v && v.type !== 'ARRAY' && v.type !== 'STRING' && v.type !== 'BOOL' ? Number(v.value) : null;
  };
  const flag = (k: string, d: boolean): boolean => {
    const v = get(k);
    return v?.type === 'BOOL' ? v.value : d;
  };
  const vocab: Record<string, number> = Object.create(null) as Record<string, number>;
  const added: AddedTokenJson[] = [];
  tokens.forEach((t, i) => {
    const ty = typeOf(i);
    if (ty === GGUF_TOKEN_TYPE.UNUSED && /^\[PAD\d+\]$/.test(t)) return;
    if (t in vocab) return;
    vocab[t] = i;
    if (ty === GGUF_TOKEN_TYPE.CONTROL || ty === GGUF_TOKEN_TYPE.USER_DEFINED || (ty === GGUF_TOKEN_TYPE.UNKNOWN && model === 'llama')) {
      added.push({ id: i, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: ty !== GGUF_TOKEN_TYPE.USER_DEFINED });
    }
  });
  const bos = id('tokenizer.ggml.bos_token_id'), eos = id('tokenizer.ggml.eos_token_id'), unk = id('tokenizer.ggml.unknown_token_id');
  const addBos = flag('tokenizer.ggml.add_bos_token', model === 'llama');
  const addEos = flag('tokenizer.ggml.add_eos_token', false);
  const name = (i: number | null): string | null => (i !== null && i >= 0 && i < tokens.length ? tokens[i]! : null);
  const template = (): Record<string, unknown> | null => {
    const b = name(bos);
    if (!addBos || b === null) return null;
    return {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: b, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: b, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: b, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { [b]: { id: b, ids: [bos], tokens: [b] } },
    };
  };
  let json: TokenizerJson;
  if (model === 'gpt2') {
    const pre = get('tokenizer.ggml.pre');
    const preName = pre?.type === 'STRING' ? pre.value : 'default';
    if (preName !== 'llama-bpe' && preName !== 'llama3') throw new GgufError(file, null, `tokenizer.ggml.pre '${preName}' is not rebuilt as a Hugging Face tokenizer (only llama-bpe)`);
    const mergesV = get('tokenizer.ggml.merges');
    if (mergesV?.type !== 'ARRAY' || mergesV.itemType !== 'STRING') throw new GgufError(file, null, "metadata 'tokenizer.ggml.merges' must be an array of strings");
    const tpl = template();
    json = {
      version: '1.0', truncation: null, padding: null, added_tokens: added, normalizer: null,
      pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: LLAMA3_SPLIT_PATTERN }, behavior: 'Isolated', invert: false }, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] },
      post_processor: { type: 'Sequence', processors: [{ type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true }, ...(tpl ? [tpl] : [])] },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: true, vocab, merges: [...mergesV.value] },
    };
  } else if (model === 'llama') {
    const scoresV = get('tokenizer.ggml.scores');
    const scores = scoresV?.type === 'ARRAY' && scoresV.itemType === 'FLOAT32' ? scoresV.value : null;
    if (!scores || scores.length !== tokens.length) throw new GgufError(file, null, "metadata 'tokenizer.ggml.scores' must hold one FLOAT32 per token");
    const cands: Array<[string, string, number, number]> = [];
    tokens.forEach((t, i) => {
      if (typeOf(i) !== GGUF_TOKEN_TYPE.NORMAL) return;
      const cps = [...t];
      for (let s = 1; s < cps.length; s++) {
        const a = cps.slice(0, s).join(''), b = cps.slice(s).join('');
        const ia = vocab[a], ib = vocab[b];
        if (ia !== undefined && ib !== undefined && typeOf(ia) === GGUF_TOKEN_TYPE.NORMAL && typeOf(ib) === GGUF_TOKEN_TYPE.NORMAL) cands.push([a, b, scores[i]!, i]);
      }
    });
    cands.sort((x, y) => y[2] - x[2] || x[3] - y[3] || vocab[x[0]]! - vocab[y[0]]!);
    json = {
      version: '1.0', truncation: null, padding: null, added_tokens: added,
      normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
      pre_tokenizer: null,
      post_processor: template() as TokenizerJson['post_processor'],
      decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] },
      model: { type: 'BPE', dropout: null, unk_token: name(unk), continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges: cands.map(([a, b]) => [a, b] as [string, string]) },
    };
  } else {
    throw new GgufError(file, null, `tokenizer.ggml.model '${model}' is not rebuilt as a Hugging Face tokenizer (llama or gpt2)`);
  }
  const tokenizerConfig: TokenizerConfigJson = { add_bos_token: addBos, add_eos_token: addEos, bos_token: name(bos), eos_token: name(eos), unk_token: name(unk), clean_up_tokenization_spaces: false, legacy: model === 'llama' ? true : undefined };
  if (tokenizerConfig.legacy === undefined) delete tokenizerConfig.legacy;
  return { tokenizerJson: json, tokenizerConfig, path: `${file} (tokenizer.ggml)` };
}
