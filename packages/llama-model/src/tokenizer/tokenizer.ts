/**
 * The Tokenizer wrapper the rest of the project uses: ids in, ids out, BOS/EOS handled the way
 * transformers' LlamaTokenizerFast / PreTrainedTokenizerFast handle them, typed errors naming the
 * file. Encoding and decoding run on @huggingface/tokenizers by default (`engine: 'hf'`) or on the
 * native LLaMA pipeline (`engine: 'native'`); both read the same Hugging Face JSON.
 */
import { DecodeStream, type DecodeStreamOptions } from './decode-stream.js';
import { TokenizerError } from './errors.js';
import { validateComponent } from './component-validate.js';
import { HfEngine } from './hf-engine.js';
import { toWellFormed } from './unicode.js';
import { NativeEngine, type TokenizerEngine } from './native-engine.js';
import {
  specialTokenContent,
  type AddedTokenJson,
  type BpeModelJson,
  type ComponentJson,
  type SpecialTokensMapJson,
  type TokenizerConfigJson,
  type TokenizerJson,
} from './tokenizer-json.js';

export type TokenizerEngineKind = 'hf' | 'native';

/** Parsed Hugging Face tokenizer files. */
export interface TokenizerFiles {
  /** tokenizer.json, parsed. */
  tokenizerJson: unknown;
  /** tokenizer_config.json, parsed (optional: defaults are inferred from tokenizer.json). */
  tokenizerConfig?: unknown;
  /** special_tokens_map.json, parsed (optional; kept so the files can be saved again). */
  specialTokensMap?: unknown;
  /** generation_config.json, parsed (optional): its `eos_token_id` adds to `eosTokenIds`. */
  generationConfig?: unknown;
  /** Where the JSON came from, for error messages (default `tokenizer.json`). */
  path?: string;
}

export interface TokenizerOptions {
  /**
   * 'hf' (default): @huggingface/tokenizers; 'native': this package's LLaMA BPE pipeline (follows the
   * Rust crate); 'auto': native when it runs every component of the file, else hf. Both engines give
   * the same ids on LLaMA files (property-tested), but on a tokenizer without a pre-tokenizer
   * (LLaMA-2's) the whole text is one BPE word, and there @huggingface/tokenizers 0.2 is
   * quadratic: about 20 KB/s on 12,000-character documents against ~15× that for the native engine.
   * Code that encodes whole documents (packing, evaluation) should pass 'auto'.
   */
  engine?: TokenizerEngineKind | 'auto';
}

export interface EncodeOptions {
  /** Prepend BOS. Default: the tokenizer's `add_bos_token` (true for LLaMA). */
  addBos?: boolean;
  /** Append EOS. Default: the tokenizer's `add_eos_token` (false for LLaMA). */
  addEos?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (`<s>`, `</s>`, `<|begin_of_text|>`, ...) from the text. Default false. */
  skipSpecialTokens?: boolean;
}

/** transformers' `clean_up_tokenization`: removes spaces before punctuation and English contractions. */
function cleanUpTokenization(s: string): string {
  return s
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Checks the parts of a tokenizer.json every engine relies on; rejects non-BPE models by name. */
export function validateTokenizerJson(json: unknown, file: string): TokenizerJson {
  if (!isObject(json)) throw new TokenizerError('invalid-json', file, 'tokenizer.json must hold a JSON object');
  const model = json.model;
  if (!isObject(model)) throw new TokenizerError('invalid', file, "'model' is missing; this is not a Hugging Face tokenizer.json");
  const type = model.type ?? (isObject(model.vocab) && Array.isArray(model.merges) ? 'BPE' : undefined);
  if (type !== 'BPE') {
    throw new TokenizerError('unsupported', file, `model.type '${String(type)}' is not supported; LLaMA tokenizers are BPE (SentencePiece-BPE or byte-level)`);
  }
  if (!isObject(model.vocab)) throw new TokenizerError('invalid', file, 'model.vocab must be an object {token: id}');
  if (!Array.isArray(model.merges)) throw new TokenizerError('invalid', file, 'model.merges must be an array');
  const added = json.added_tokens ?? [];
  if (!Array.isArray(added)) throw new TokenizerError('invalid', file, 'added_tokens must be an array');
  added.forEach((t: unknown, i) => {
    if (!isObject(t) || !Number.isInteger(t.id) || (t.id as number) < 0 || typeof t.content !== 'string') {
      throw new TokenizerError('invalid', file, `added_tokens[${i}] needs an integer 'id' >= 0 and a string 'content'`);
    }
  });
  for (const key of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder'] as const) {
    const c = json[key];
    if (c !== null && c !== undefined && !(isObject(c) && typeof c.type === 'string')) {
      throw new TokenizerError('invalid', file, `'${key}' must be null or an object with a 'type'`);
    }
    // Deep shape check: the engines trust these objects (see component-validate.ts).
    validateComponent(key, c, file);
  }
  return {
    version: String(json.version ?? '1.0'),
    truncation: json.truncation ?? null,
    padding: json.padding ?? null,
    added_tokens: added as AddedTokenJson[],
    normalizer: (json.normalizer ?? null) as ComponentJson | null,
    pre_tokenizer: (json.pre_tokenizer ?? null) as ComponentJson | null,
    post_processor: (json.post_processor ?? null) as ComponentJson | null,
    decoder: (json.decoder ?? null) as ComponentJson | null,
    model: { ...(model as unknown as BpeModelJson), type: 'BPE' },
  };
}

/** Special-token contents a TemplateProcessing post-processor puts around `$A` (searched through Sequence). */
function templateSpecials(pp: ComponentJson | null): { before: string[]; after: string[] } {
  if (pp === null) return { before: [], after: [] };
  if (pp.type === 'Sequence') {
    for (const p of (pp.processors as ComponentJson[] | undefined) ?? []) {
      const r = templateSpecials(p);
      if (r.before.length + r.after.length > 0) return r;
    }
    return { before: [], after: [] };
  }
  if (pp.type !== 'TemplateProcessing' || !Array.isArray(pp.single)) return { before: [], after: [] };
  const before: string[] = [];
  const after: string[] = [];
  let seenA = false;
  for (const item of pp.single as Array<Record<string, { id?: unknown }>>) {
    if (item.Sequence) seenA = true;
    else if (item.SpecialToken && typeof item.SpecialToken.id === 'string') (seenA ? after : before).push(item.SpecialToken.id);
  }
  return { before, after };
}

/**
 * The engine with every non-TokenizerError failure of encode / decode rethrown as a TokenizerError
 * naming the file: a tokenizer.json that passed validation can still break an engine in ways no
 * shape check foresees, and callers several packages away only handle TokenizerError.
 */
function engineFailuresTyped(engine: TokenizerEngine, file: string): TokenizerEngine {
  const typed = (op: string, e: unknown): TokenizerError =>
    e instanceof TokenizerError ? e : new TokenizerError('invalid', file, `${op} failed inside the tokenizer engine (${(e as Error)?.message ?? String(e)}); check this tokenizer.json`);
  return {
    encode(text: string): number[] {
      try {
        return engine.encode(text);
      } catch (e) {
        throw typed('encode', e);
      }
    },
    decode(ids: readonly number[], skipSpecialTokens: boolean): string {
      try {
        return engine.decode(ids, skipSpecialTokens);
      } catch (e) {
        throw typed('decode', e);
      }
    },
  };
}

export class Tokenizer {
  /** len(tokenizer): one more than the largest id (model vocab and added tokens). */
  readonly vocabSize: number;
  readonly bosToken: string | null;
  readonly bosTokenId: number | null;
  readonly eosToken: string | null;
  /** The tokenizer's eos_token id (the first of `eosTokenIds`), or null. */
  readonly eosTokenId: number | null;
  /** Every id that ends generation: eos_token plus generation_config.json's eos_token_id(s). */
  readonly eosTokenIds: readonly number[];
  readonly unkTokenId: number | null;
  readonly padTokenId: number | null;
  /** Defaults for `encode` (tokenizer_config.json's add_bos_token / add_eos_token, else the post-processor template). */
  readonly addBosToken: boolean;
  readonly addEosToken: boolean;
  /** Ids of added tokens marked `special`. */
  readonly specialTokenIds: ReadonlySet<number>;
  readonly engineKind: TokenizerEngineKind;
  /** The files this tokenizer was built from (for saving next to a converted checkpoint). */
  readonly tokenizerJson: TokenizerJson;
  readonly tokenizerConfig: TokenizerConfigJson;
  readonly specialTokensMap: SpecialTokensMapJson | null;
  /** Label used in error messages. */
  readonly path: string;

  private readonly engine: TokenizerEngine;
  private readonly idToTokenTable: string[];
  private readonly tokenToIdTable = new Map<string, number>();
  private readonly cleanUpSpaces: boolean;

  constructor(files: TokenizerFiles, options: TokenizerOptions = {}) {
    const file = files.path ?? 'tokenizer.json';
    this.path = file;
    this.tokenizerJson = validateTokenizerJson(files.tokenizerJson, file);
    if (files.tokenizerConfig !== undefined && files.tokenizerConfig !== null && !isObject(files.tokenizerConfig)) {
      throw new TokenizerError('invalid-json', file.replace(/tokenizer\.json$/, 'tokenizer_config.json'), 'tokenizer_config.json must hold a JSON object');
    }
    this.tokenizerConfig = (files.tokenizerConfig ?? {}) as TokenizerConfigJson;
    this.specialTokensMap = isObject(files.specialTokensMap) ? (files.specialTokensMap as SpecialTokensMapJson) : null;
    const json = this.tokenizerJson;
    const model = json.model as BpeModelJson;

    this.idToTokenTable = [];
    for (const [tok, id] of Object.entries(model.vocab)) {
      this.idToTokenTable[id] = tok;
      this.tokenToIdTable.set(tok, id);
    }
    const special = new Set<number>();
    for (const t of json.added_tokens) {
      this.idToTokenTable[t.id] = t.content;
      this.tokenToIdTable.set(t.content, t.id);
      if (t.special) special.add(t.id);
    }
    this.specialTokenIds = special;
    this.vocabSize = this.idToTokenTable.length;

    let engine: TokenizerEngineKind = options.engine === 'auto' ? 'native' : (options.engine ?? 'hf');
    let built: TokenizerEngine;
    try {
      if (options.engine === 'auto') {
        try {
          built = new NativeEngine(json, file);
        } catch (e) {
          // A component the native pipeline does not run (named in the error): hf runs it.
          if (!(e instanceof TokenizerError)) throw e;
          engine = 'hf';
          built = new HfEngine(json, this.tokenizerConfig, file);
        }
      } else {
        built = engine === 'native' ? new NativeEngine(json, file) : new HfEngine(json, this.tokenizerConfig, file);
      }
    } catch (e) {
      if (e instanceof TokenizerError) throw e;
      throw new TokenizerError('invalid', file, `the ${engine} tokenizer engine cannot be built from it (${(e as Error)?.message ?? String(e)}); check this tokenizer.json`);
    }
    this.engineKind = engine;
    this.engine = engineFailuresTyped(built, file);

    const cfg = this.tokenizerConfig;
    const template = templateSpecials(json.post_processor);
    const lookup = (key: 'bos_token' | 'eos_token' | 'unk_token' | 'pad_token', fallbacks: string[]): [string | null, number | null] => {
      const named = specialTokenContent(cfg[key]);
      const candidates = named !== null ? [named] : fallbacks;
      for (const c of candidates) {
        const id = this.tokenToIdTable.get(c);
        if (id !== undefined) return [c, id];
      }
      if (named !== null) {
        throw new TokenizerError('invalid', file.replace(/tokenizer\.json$/, 'tokenizer_config.json'), `'${key}' is '${named}', which is not a token of ${file}`);
      }
      return [null, null];
    };
    [this.bosToken, this.bosTokenId] = lookup('bos_token', [...template.before, '<s>', '<|begin_of_text|>']);
    [this.eosToken, this.eosTokenId] = lookup('eos_token', [...template.after, '</s>', '<|end_of_text|>']);
    this.unkTokenId = lookup('unk_token', model.unk_token ? [model.unk_token] : [])[1];
    this.padTokenId = lookup('pad_token', [])[1];

    const eosIds: number[] = this.eosTokenId === null ? [] : [this.eosTokenId];
    const gen = files.generationConfig;
    if (isObject(gen)) {
      const e = gen.eos_token_id;
      for (const id of Array.isArray(e) ? e : e === undefined || e === null ? [] : [e]) {
        if (Number.isInteger(id) && !eosIds.includes(id as number)) eosIds.push(id as number);
      }
    }
    this.eosTokenIds = eosIds;

    this.addBosToken = typeof cfg.add_bos_token === 'boolean' ? cfg.add_bos_token : this.bosToken !== null && template.before.includes(this.bosToken);
    this.addEosToken = typeof cfg.add_eos_token === 'boolean' ? cfg.add_eos_token : this.eosToken !== null && template.after.includes(this.eosToken);
    this.cleanUpSpaces = cfg.clean_up_tokenization_spaces === true;
  }

  /** Token ids of `text` (lone surrogates are encoded as U+FFFD), with BOS/EOS per the options. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') throw new TokenizerError('option', `${this.path}: encode`, `text must be a string, got ${typeof text}`);
    const addBos = options.addBos ?? this.addBosToken;
    const addEos = options.addEos ?? this.addEosToken;
    const body = this.engine.encode(toWellFormed(text));
    if (addBos && this.bosTokenId === null) throw new TokenizerError('option', `${this.path}: encode`, 'addBos is set but the tokenizer has no bos_token');
    if (addEos && this.eosTokenId === null) throw new TokenizerError('option', `${this.path}: encode`, 'addEos is set but the tokenizer has no eos_token');
    if (addBos) body.unshift(this.bosTokenId!);
    if (addEos) body.push(this.eosTokenId!);
    return body;
  }

  /** Text of `ids`. Ids outside the vocabulary throw TokenizerError('id-range'). */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const list = Array.from(ids);
    for (let i = 0; i < list.length; i++) {
      const id = list[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || this.idToTokenTable[id] === undefined) {
        throw new TokenizerError('id-range', this.path, `decode: ids[${i}] = ${id} is not a token id (vocab size ${this.vocabSize})`);
      }
    }
    const text = this.engine.decode(list, options.skipSpecialTokens === true);
    return this.cleanUpSpaces ? cleanUpTokenization(text) : text;
  }

  /** A streaming decoder: push ids as they are generated, get text once it forms whole characters. */
  decodeStream(options: DecodeStreamOptions = {}): DecodeStream {
    return new DecodeStream((ids) => this.decode(ids, options));
  }

  /** Token strings of `text` (no BOS/EOS). */
  tokenize(text: string): string[] {
    return this.encode(text, { addBos: false, addEos: false }).map((id) => this.idToTokenTable[id]!);
  }

  idToToken(id: number): string | undefined {
    return Number.isInteger(id) && id >= 0 ? this.idToTokenTable[id] : undefined;
  }

  tokenToId(token: string): number | undefined {
    return this.tokenToIdTable.get(token);
  }

  /** True for added tokens marked special (BOS, EOS, `<|eot_id|>`, reserved tokens, ...). */
  isSpecialTokenId(id: number): boolean {
    return this.specialTokenIds.has(id);
  }
}
