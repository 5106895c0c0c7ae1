/**
 * BPE trainer that writes LLaMA-shaped Hugging Face tokenizer files, so tests and demos get a real
 * tokenizer without downloading one.
 *
 * - `llama2`: SentencePiece-BPE as transformers converts it (meta-llama/Llama-2-7b-hf): text is
 *   normalized to `▁` + text with spaces → `▁`, words are SentencePiece's whitespace pieces (a run
 *   of `▁` followed by non-`▁` characters), characters outside the kept alphabet fall back to
 *   `<0xXX>` byte tokens. Vocab: `<unk>`, `<s>`, `</s>`, 256 byte tokens, merged tokens in merge
 *   order, then the single characters by frequency (where SentencePiece puts them). Digits are
 *   never merged (LLaMA-2's `split_digits`).
 * - `llama3`: tiktoken-like byte-level BPE (meta-llama/Meta-Llama-3-8B): Llama-3 split regex, bytes
 *   mapped to GPT-2's printable alphabet, the 256 byte tokens first, merges, then the special tokens.
 *
 * Training is deterministic: the most frequent pair wins, ties go to the pair whose left then right
 * token sorts first (UTF-16 code unit order). Pair counts are updated incrementally per merge (only
 * words holding the merged pair are touched) with a lazily invalidated max-heap.
 */
import { byteTokenName } from './bpe-model.js';
import { BYTE_LEVEL_ORDER, BYTE_TO_CHAR, LLAMA3_SPLIT_PATTERN, LLAMA3_SPLIT_REGEX_SOURCE, splitIsolated, toByteLevel } from './byte-level.js';
import { TokenizerError } from './errors.js';
import { toWellFormed } from './unicode.js';
import type { AddedTokenJson, SpecialTokenJson, SpecialTokensMapJson, TokenizerConfigJson, TokenizerJson } from './tokenizer-json.js';

export type LlamaTokenizerStyle = 'llama2' | 'llama3';

export interface TrainLlamaTokenizerOptions {
  /** Target len(tokenizer), special and byte tokens included. */
  vocabSize: number;
  style: LlamaTokenizerStyle;
  /**
   * When the corpus runs out of pairs first, add reserved special tokens (`<|reserved_N|>` for
   * llama2, `<|reserved_special_token_N|>` for llama3, as Llama-3 names them) so that
   * len(tokenizer) === vocabSize. Default false: the tokenizer is smaller and `vocabSize` reports it.
   */
  padToVocabSize?: boolean;
  /** Longest merged token, in characters (llama2) or bytes (llama3). Default 16 (SentencePiece's max_sentencepiece_length). */
  maxTokenLength?: number;
  /** A pair seen fewer times than this is never merged. Default 2. */
  minPairCount?: number;
  /** llama2: keep the most frequent characters covering this share of the corpus; the rest use byte fallback. Default 0.9995 (SentencePiece's default). */
  characterCoverage?: number;
  /** tokenizer_config.json `model_max_length`. Default 4096 (llama2) / 8192 (llama3). */
  modelMaxLength?: number;
}

/** A trained tokenizer: the three Hugging Face files, parsed. */
export interface TrainedTokenizer {
  style: LlamaTokenizerStyle;
  tokenizerJson: TokenizerJson;
  tokenizerConfig: TokenizerConfigJson;
  specialTokensMap: SpecialTokensMapJson;
  /** len(tokenizer): model vocab plus added tokens beyond it. */
  vocabSize: number;
  numMerges: number;
}

/** Pair key; symbol ids stay below 2^21. */
const SHIFT = 2097152;
const pairKey = (a: number, b: number): number => a * SHIFT + b;

const LLAMA2_SPECIALS = ['<unk>', '<s>', '</s>'] as const;
/** Llama-3.1's first 11 special tokens, ids base+0 .. base+10. */
const LLAMA3_SPECIALS = [
  '<|begin_of_text|>',
  '<|end_of_text|>',
  '<|reserved_special_token_0|>',
  '<|reserved_special_token_1|>',
  '<|finetune_right_pad_id|>',
  '<|reserved_special_token_2|>',
  '<|start_header_id|>',
  '<|end_header_id|>',
  '<|eom_id|>',
  '<|eot_id|>',
  '<|python_tag|>',
] as const;
/** Next free `<|reserved_special_token_N|>` index after LLAMA3_SPECIALS. */
const LLAMA3_NEXT_RESERVED = 3;

interface HeapEntry {
  count: number;
  a: number;
  b: number;
}

/** Max-heap of candidate pairs: higher count first, then smaller left token, then smaller right token. */
class PairHeap {
  private readonly items: HeapEntry[] = [];
  constructor(private readonly sym: string[]) {}
  get size(): number {
    return this.items.length;
  }
  private before(x: HeapEntry, y: HeapEntry): boolean {
    if (x.count !== y.count) return x.count > y.count;
    const xa = this.sym[x.a]!;
    const ya = this.sym[y.a]!;
    if (xa !== ya) return xa < ya;
    return this.sym[x.b]! < this.sym[y.b]!;
  }
  push(e: HeapEntry): void {
    const h = this.items;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  pop(): HeapEntry | undefined {
    const h = this.items;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.before(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function checkOptions(o: TrainLlamaTokenizerOptions): Required<TrainLlamaTokenizerOptions> {
  const bad = (name: string, detail: string): never => {
    throw new TokenizerError('option', `trainLlamaTokenizer: ${name}`, detail);
  };
  if (o.style !== 'llama2' && o.style !== 'llama3') bad('style', `must be 'llama2' or 'llama3', got ${JSON.stringify(o.style)}`);
  const minVocab = o.style === 'llama2' ? LLAMA2_SPECIALS.length + 256 : 256 + LLAMA3_SPECIALS.length;
  if (!Number.isInteger(o.vocabSize) || o.vocabSize < minVocab || o.vocabSize >= SHIFT) {
    bad('vocabSize', `must be an integer in [${minVocab}, ${SHIFT}) for style '${o.style}' (specials + 256 byte tokens), got ${o.vocabSize}`);
  }
  const maxTokenLength = o.maxTokenLength ?? 16;
  if (!Number.isInteger(maxTokenLength) || maxTokenLength < 2) bad('maxTokenLength', `must be an integer >= 2, got ${maxTokenLength}`);
  const minPairCount = o.minPairCount ?? 2;
  if (!Number.isInteger(minPairCount) || minPairCount < 1) bad('minPairCount', `must be an integer >= 1, got ${minPairCount}`);
  const characterCoverage = o.characterCoverage ?? 0.9995;
  if (!(characterCoverage > 0 && characterCoverage <= 1)) bad('characterCoverage', `must be in (0, 1], got ${characterCoverage}`);
  const modelMaxLength = o.modelMaxLength ?? (o.style === 'llama2' ? 4096 : 8192);
  if (!Number.isInteger(modelMaxLength) || modelMaxLength < 1) bad('modelMaxLength', `must be a positive integer, got ${modelMaxLength}`);
  return { vocabSize: o.vocabSize, style: o.style, padToVocabSize: o.padToVocabSize ?? false, maxTokenLength, minPairCount, characterCoverage, modelMaxLength };
}

/** Word → count, words as the encoder will see them (normalized, pre-tokenized). */
function countWords(texts: Iterable<string>, style: LlamaTokenizerStyle): Map<string, number> {
  const words = new Map<string, number>();
  const add = (w: string): void => {
    words.set(w, (words.get(w) ?? 0) + 1);
  };
  // SentencePiece's SplitIntoWords with allow_whitespace_only_pieces: a run of ▁ joins the word after it.
  const spWords = /▁*[^▁]+|▁+/gu;
  const llama3Split = new RegExp(LLAMA3_SPLIT_REGEX_SOURCE, 'gu');
  for (const raw of texts) {
    if (typeof raw !== 'string') throw new TokenizerError('option', 'trainLlamaTokenizer: texts', `every text must be a string, got ${typeof raw}`);
    const text = toWellFormed(raw);
    if (text.length === 0) continue;
    if (style === 'llama2') {
      for (const m of ('▁' + text.replaceAll(' ', '▁')).matchAll(spWords)) add(m[0]);
    } else {
      for (const piece of splitIsolated(text, llama3Split)) add(toByteLevel(piece));
    }
  }
  return words;
}

/** llama2 alphabet: characters by frequency (ties by code point) until `coverage` of all characters, at most `cap`. */
function llama2Alphabet(words: Map<string, number>, coverage: number, cap: number): string[] {
  const counts = new Map<string, number>();
  let total = 0;
  for (const [w, c] of words) {
    for (const ch of w) counts.set(ch, (counts.get(ch) ?? 0) + c);
    total += c * [...w].length;
  }
  const sorted = [...counts].sort((x, y) => y[1] - x[1] || x[0].codePointAt(0)! - y[0].codePointAt(0)!);
  const out: string[] = [];
  let covered = 0;
  for (const [ch, c] of sorted) {
    if (out.length >= cap || covered >= coverage * total) break;
    out.push(ch);
    covered += c;
  }
  return out;
}

/** Train a BPE tokenizer on `texts` and return its tokenizer.json, tokenizer_config.json and special_tokens_map.json. */
export function trainLlamaTokenizer(texts: Iterable<string>, options: TrainLlamaTokenizerOptions): TrainedTokenizer {
  const opt = checkOptions(options);
  const { style } = opt;
  const wordCounts = countWords(texts, style);

  // Symbols: the alphabet first, merged tokens appended.
  const sym: string[] = [];
  const symLen: number[] = [];
  const symId = new Map<string, number>();
  const addSym = (s: string, len: number): number => {
    const id = sym.length;
    sym.push(s);
    symLen.push(len);
    symId.set(s, id);
    return id;
  };
  const fixedTokens: string[] =
    style === 'llama2' ? [...LLAMA2_SPECIALS, ...Array.from({ length: 256 }, (_, b) => byteTokenName(b))] : BYTE_LEVEL_ORDER.map((b) => BYTE_TO_CHAR[b]!);
  const specialsAfter: string[] = style === 'llama3' ? [...LLAMA3_SPECIALS] : [];
  let alphabet: string[];
  if (style === 'llama2') {
    alphabet = llama2Alphabet(wordCounts, opt.characterCoverage, opt.vocabSize - fixedTokens.length);
  } else {
    alphabet = fixedTokens;
  }
  for (const ch of alphabet) addSym(ch, 1);
  // A merge may never produce a string that is already a special or byte token.
  const reserved = new Set<string>([...fixedTokens, ...specialsAfter, ...LLAMA2_SPECIALS]);

  /** Words as symbol ids; -1 marks a character outside the alphabet (byte fallback), which no pair spans. */
  const words: number[][] = [];
  const counts: number[] = [];
  for (const [w, c] of wordCounts) {
    const ids: number[] = [];
    for (const ch of w) ids.push(symId.get(ch) ?? -1);
    words.push(ids);
    counts.push(c);
  }

  const banned = new Set<number>();
  const pairCount = new Map<number, number>();
  /** Words that held the pair at some point (may be stale or repeated; checked when used). */
  const pairWhere = new Map<number, number[]>();
  // LLaMA-2's SentencePiece model has split_digits: every ASCII digit stays its own token.
  const isolated = new Uint8Array(SHIFT); // [symbol id] 1 = never merged
  if (style === 'llama2') for (const d of '0123456789') if (symId.has(d)) isolated[symId.get(d)!] = 1;
  const countable = (a: number, b: number): boolean =>
    a >= 0 && b >= 0 && isolated[a] === 0 && isolated[b] === 0 && symLen[a]! + symLen[b]! <= opt.maxTokenLength;
  const noteWhere = (k: number, w: number): void => {
    const list = pairWhere.get(k);
    if (list === undefined) pairWhere.set(k, [w]);
    else if (list[list.length - 1] !== w) list.push(w);
  };
  words.forEach((ws, w) => {
    for (let j = 0; j + 1 < ws.length; j++) {
      if (!countable(ws[j]!, ws[j + 1]!)) continue;
      const k = pairKey(ws[j]!, ws[j + 1]!);
      pairCount.set(k, (pairCount.get(k) ?? 0) + counts[w]!);
      noteWhere(k, w);
    }
  });
  const heap = new PairHeap(sym);
  for (const [k, c] of pairCount) if (c >= opt.minPairCount) heap.push({ count: c, a: Math.floor(k / SHIFT), b: k % SHIFT });

  const popBest = (): HeapEntry | undefined => {
    for (;;) {
      const e = heap.pop();
      if (e === undefined) return undefined;
      const k = pairKey(e.a, e.b);
      const cur = pairCount.get(k);
      if (cur === undefined || banned.has(k) || cur < opt.minPairCount) continue;
      if (cur < e.count) {
        heap.push({ count: cur, a: e.a, b: e.b }); // counts only fall between pushes: requeue at the true count
        continue;
      }
      if (cur > e.count) continue; // a fresher entry with the larger count is queued
      return e;
    }
  };

  const target = opt.vocabSize - fixedTokens.length - specialsAfter.length - (style === 'llama2' ? alphabet.length : 0);
  const merges: string[] = [];
  const mergedTokens: string[] = [];
  const stamp = new Int32Array(words.length).fill(-1);
  while (mergedTokens.length < target) {
    const best = popBest();
    if (best === undefined) break;
    const { a, b } = best;
    const key = pairKey(a, b);
    const text = sym[a]! + sym[b]!;
    if (reserved.has(text)) {
      banned.add(key);
      pairCount.delete(key);
      continue;
    }
    let id = symId.get(text);
    if (id === undefined) {
      id = addSym(text, symLen[a]! + symLen[b]!);
      mergedTokens.push(text);
    }
    merges.push(`${sym[a]} ${sym[b]}`);

    const delta = new Map<number, number>();
    const bump = (k: number, d: number): void => {
      delta.set(k, (delta.get(k) ?? 0) + d);
    };
    const mergeNo = merges.length;
    for (const w of pairWhere.get(key) ?? []) {
      if (stamp[w] === mergeNo) continue;
      stamp[w] = mergeNo;
      const ws = words[w]!;
      let found = false;
      for (let j = 0; j + 1 < ws.length; j++) {
        if (ws[j]! === a && ws[j + 1]! === b) {
          found = true;
          break;
        }
      }
      if (!found) continue;
      const out: number[] = [];
      for (let j = 0; j < ws.length; j++) {
        if (j + 1 < ws.length && ws[j]! === a && ws[j + 1]! === b) {
          out.push(id);
          j++;
        } else out.push(ws[j]!);
      }
      const c = counts[w]!;
      for (let j = 0; j + 1 < ws.length; j++) if (countable(ws[j]!, ws[j + 1]!)) bump(pairKey(ws[j]!, ws[j + 1]!), -c);
      for (let j = 0; j + 1 < out.length; j++) {
        if (!countable(out[j]!, out[j + 1]!)) continue;
        const k = pairKey(out[j]!, out[j + 1]!);
        bump(k, c);
        if (out[j] === id || out[j + 1] === id) noteWhere(k, w);
      }
      words[w] = out;
    }
    pairWhere.delete(key);
    for (const [k, d] of delta) {
      if (d === 0 || banned.has(k)) continue;
      const nc = (pairCount.get(k) ?? 0) + d;
      if (nc <= 0) {
        pairCount.delete(k);
        pairWhere.delete(k);
        continue;
      }
      pairCount.set(k, nc);
      if (d > 0 && nc >= opt.minPairCount) heap.push({ count: nc, a: Math.floor(k / SHIFT), b: k % SHIFT });
    }
  }

  return assemble(style, opt, fixedTokens, alphabet, mergedTokens, merges, specialsAfter);
}

const addedToken = (id: number, content: string): AddedTokenJson => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
});

const specialTokenJson = (content: string): SpecialTokenJson => ({ content, lstrip: false, normalized: false, rstrip: false, single_word: false });

/** TemplateProcessing that puts `bos` before the sequence(s), as LLaMA-2 and Llama-3 do. */
function bosTemplate(bos: string, bosId: number): Record<string, unknown> {
  return {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [
      { SpecialToken: { id: bos, type_id: 0 } },
      { Sequence: { id: 'A', type_id: 0 } },
      { SpecialToken: { id: bos, type_id: 1 } },
      { Sequence: { id: 'B', type_id: 1 } },
    ],
    special_tokens: { [bos]: { id: bos, ids: [bosId], tokens: [bos] } },
  };
}

function assemble(
  style: LlamaTokenizerStyle,
  opt: Required<TrainLlamaTokenizerOptions>,
  fixedTokens: string[],
  alphabet: string[],
  mergedTokens: string[],
  merges: string[],
  specialsAfter: string[],
): TrainedTokenizer {
  // Null prototype: a token spelled "__proto__" must be an ordinary key.
  const vocab: Record<string, number> = Object.create(null) as Record<string, number>;
  let next = 0;
  const modelTokens = style === 'llama2' ? [...fixedTokens, ...mergedTokens, ...alphabet] : [...fixedTokens, ...mergedTokens];
  for (const t of modelTokens) vocab[t] = next++;
  const added: AddedTokenJson[] = [];
  if (style === 'llama2') LLAMA2_SPECIALS.forEach((t, i) => added.push(addedToken(i, t)));
  for (const t of specialsAfter) added.push(addedToken(next++, t));
  if (opt.padToVocabSize) {
    const taken = (s: string): boolean => s in vocab || added.some((t) => t.content === s);
    let n = style === 'llama2' ? 0 : LLAMA3_NEXT_RESERVED;
    while (next < opt.vocabSize) {
      const name = style === 'llama2' ? `<|reserved_${n}|>` : `<|reserved_special_token_${n}|>`;
      n++;
      if (taken(name)) continue;
      added.push(addedToken(next++, name));
    }
  }

  const bos = style === 'llama2' ? '<s>' : '<|begin_of_text|>';
  const eos = style === 'llama2' ? '</s>' : '<|end_of_text|>';
  // LLaMA-2's <s> is id 1; Llama-3's <|begin_of_text|> is the first token after the merges.
  const bosId = style === 'llama2' ? 1 : added[0]!.id;
  const tokenizerJson: TokenizerJson =
    style === 'llama2'
      ? {
          version: '1.0',
          truncation: null,
          padding: null,
          added_tokens: added,
          normalizer: {
            type: 'Sequence',
            normalizers: [
              { type: 'Prepend', prepend: '▁' },
              { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
            ],
          },
          pre_tokenizer: null,
          post_processor: bosTemplate(bos, bosId) as TokenizerJson['post_processor'],
          decoder: {
            type: 'Sequence',
            decoders: [
              { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
              { type: 'ByteFallback' },
              { type: 'Fuse' },
              { type: 'Strip', content: ' ', start: 1, stop: 0 },
            ],
          },
          model: {
            type: 'BPE',
            dropout: null,
            unk_token: '<unk>',
            continuing_subword_prefix: null,
            end_of_word_suffix: null,
            fuse_unk: true,
            byte_fallback: true,
            ignore_merges: false,
            vocab,
            merges,
          },
        }
      : {
          version: '1.0',
          truncation: null,
          padding: null,
          added_tokens: added,
          normalizer: null,
          pre_tokenizer: {
            type: 'Sequence',
            pretokenizers: [
              { type: 'Split', pattern: { Regex: LLAMA3_SPLIT_PATTERN }, behavior: 'Isolated', invert: false },
              { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
            ],
          },
          post_processor: {
            type: 'Sequence',
            processors: [{ type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true }, bosTemplate(bos, bosId)],
          },
          decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
          model: {
            type: 'BPE',
            dropout: null,
            unk_token: null,
            continuing_subword_prefix: null,
            end_of_word_suffix: null,
            fuse_unk: false,
            byte_fallback: false,
            ignore_merges: true,
            vocab,
            merges,
          },
        };

  const addedTokensDecoder: Record<string, Omit<AddedTokenJson, 'id'>> = {};
  for (const { id, ...rest } of added) addedTokensDecoder[String(id)] = rest;
  const tokenizerConfig: TokenizerConfigJson =
    style === 'llama2'
      ? {
          add_bos_token: true,
          add_eos_token: false,
          added_tokens_decoder: addedTokensDecoder,
          bos_token: bos,
          clean_up_tokenization_spaces: false,
          eos_token: eos,
          legacy: false,
          model_max_length: opt.modelMaxLength,
          pad_token: null,
          sp_model_kwargs: {},
          tokenizer_class: 'LlamaTokenizerFast',
          unk_token: '<unk>',
          use_default_system_prompt: false,
        }
      : {
          add_bos_token: true,
          add_eos_token: false,
          added_tokens_decoder: addedTokensDecoder,
          bos_token: bos,
          clean_up_tokenization_spaces: false,
          eos_token: eos,
          model_input_names: ['input_ids', 'attention_mask'],
          model_max_length: opt.modelMaxLength,
          tokenizer_class: 'PreTrainedTokenizerFast',
        };
  const specialTokensMap: SpecialTokensMapJson =
    style === 'llama2'
      ? { bos_token: specialTokenJson(bos), eos_token: specialTokenJson(eos), unk_token: specialTokenJson('<unk>') }
      : { bos_token: specialTokenJson(bos), eos_token: specialTokenJson(eos) };

  return { style, tokenizerJson, tokenizerConfig, specialTokensMap, vocabSize: next, numMerges: merges.length };
}
