/**
 * Shape checks for the pipeline components of a tokenizer.json (normalizer, pre_tokenizer,
 * post_processor, decoder), field names and types as the Rust `tokenizers` crate deserializes them.
 *
 * Why here and not in the engines: @huggingface/tokenizers trusts these objects, so a wrong type
 * surfaces later as a TypeError deep inside encode (`'SpecialToken' in 7`), or as a console
 * warning ("Unknown pattern type") with the component silently disabled. Checking up front turns
 * every such file into one TokenizerError that names the file and the JSON path.
 */
import { TokenizerError } from './errors.js';

export type ComponentKind = 'normalizer' | 'pre_tokenizer' | 'post_processor' | 'decoder';

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Component types per kind (the union of what the Rust crate and Tokenizers.js know). */
const KNOWN_TYPES: Record<ComponentKind, ReadonlySet<string>> = {
  normalizer: new Set(['BertNormalizer', 'Precompiled', 'Sequence', 'Replace', 'NFC', 'NFD', 'NFKC', 'NFKD', 'Strip', 'StripAccents', 'Lowercase', 'Prepend']),
  pre_tokenizer: new Set(['BertPreTokenizer', 'Sequence', 'Whitespace', 'WhitespaceSplit', 'Metaspace', 'ByteLevel', 'Split', 'Punctuation', 'Digits', 'Replace', 'FixedLength']),
  post_processor: new Set(['TemplateProcessing', 'ByteLevel', 'BertProcessing', 'RobertaProcessing', 'Sequence']),
  decoder: new Set(['ByteLevel', 'WordPiece', 'Metaspace', 'BPEDecoder', 'CTC', 'Sequence', 'Replace', 'Fuse', 'Strip', 'ByteFallback']),
};

/** The list field of a `Sequence` per kind, spelled as in tokenizer.json. */
const SEQUENCE_FIELD: Record<ComponentKind, string> = {
  normalizer: 'normalizers',
  pre_tokenizer: 'pretokenizers',
  post_processor: 'processors',
  decoder: 'decoders',
};

/** Nesting bound: real files nest Sequence one or two levels; a deeper chain is a corrupted file. */
const MAX_DEPTH = 32;

class Checker {
  constructor(private readonly file: string) {}

  fail(where: string, what: string): never {
    throw new TokenizerError('invalid', this.file, `${where} ${what}`);
  }

  /** Optional fields: absent / null is allowed (the libraries default them). */
  str(c: Record<string, unknown>, key: string, where: string): void {
    const v = c[key];
    if (v !== undefined && v !== null && typeof v !== 'string') this.fail(`${where}.${key}`, `must be a string, got ${JSON.stringify(v) ?? typeof v}`);
  }

  bool(c: Record<string, unknown>, key: string, where: string): void {
    const v = c[key];
    if (v !== undefined && v !== null && typeof v !== 'boolean') this.fail(`${where}.${key}`, `must be true or false, got ${JSON.stringify(v) ?? typeof v}`);
  }

  uint(c: Record<string, unknown>, key: string, where: string, min = 0): void {
    const v = c[key];
    if (v !== undefined && v !== null && !(Number.isSafeInteger(v) && (v as number) >= min)) {
      this.fail(`${where}.${key}`, `must be an integer >= ${min}, got ${JSON.stringify(v) ?? typeof v}`);
    }
  }

  oneOf(c: Record<string, unknown>, key: string, where: string, allowed: readonly string[]): void {
    const v = c[key];
    if (v !== undefined && v !== null && !(typeof v === 'string' && allowed.includes(v))) {
      this.fail(`${where}.${key}`, `must be one of ${allowed.join(' / ')}, got ${JSON.stringify(v) ?? typeof v}`);
    }
  }

  /** A Replace / Split pattern: exactly `{"String": "..."}` or `{"Regex": "..."}`. */
  pattern(c: Record<string, unknown>, where: string): void {
    const p = c.pattern;
    const ok =
      isObject(p) &&
      Object.keys(p).length === 1 &&
      ((typeof p.String === 'string' && 'String' in p) || (typeof p.Regex === 'string' && 'Regex' in p));
    if (!ok) this.fail(`${where}.pattern`, `must be {"String": "..."} or {"Regex": "..."}, got ${JSON.stringify(p) ?? typeof p}`);
  }

  /** `[token, id]` as BertProcessing / RobertaProcessing store `sep` and `cls`. */
  tokenPair(c: Record<string, unknown>, key: string, where: string): void {
    const v = c[key];
    if (!(Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && Number.isSafeInteger(v[1]) && v[1] >= 0)) {
      this.fail(`${where}.${key}`, `must be [token, id], got ${JSON.stringify(v) ?? typeof v}`);
    }
  }

  /** A TemplateProcessing `single` / `pair` template. */
  template(c: Record<string, unknown>, key: string, where: string, required: boolean): void {
    const v = c[key];
    if (v === undefined || v === null) {
      if (required) this.fail(`${where}.${key}`, 'is missing; a TemplateProcessing needs a template list');
      return;
    }
    if (!Array.isArray(v)) this.fail(`${where}.${key}`, `must be a list of {"SpecialToken": ...} / {"Sequence": ...}, got ${JSON.stringify(v)}`);
    v.forEach((item: unknown, i) => {
      const at = `${where}.${key}[${i}]`;
      if (!isObject(item) || Object.keys(item).length !== 1) this.fail(at, `must be {"SpecialToken": {...}} or {"Sequence": {...}}, got ${JSON.stringify(item)}`);
      const body = item.SpecialToken ?? item.Sequence;
      if (!isObject(body) || !Number.isSafeInteger(body.type_id) || (body.type_id as number) < 0) {
        this.fail(at, `needs {"id": ..., "type_id": integer >= 0}, got ${JSON.stringify(item)}`);
      }
      if ('SpecialToken' in item && typeof body.id !== 'string') this.fail(`${at}.SpecialToken.id`, 'must be the token string');
      if ('Sequence' in item && body.id !== 'A' && body.id !== 'B') this.fail(`${at}.Sequence.id`, `must be "A" or "B", got ${JSON.stringify(body.id)}`);
    });
  }

  /** TemplateProcessing `special_tokens`: {token: {id, ids, tokens}}. */
  specialTokens(c: Record<string, unknown>, where: string): void {
    const v = c.special_tokens;
    if (v === undefined || v === null) return;
    if (!isObject(v)) this.fail(`${where}.special_tokens`, 'must be an object {token: {id, ids, tokens}}');
    for (const [name, s] of Object.entries(v)) {
      const ok =
        isObject(s) &&
        typeof s.id === 'string' &&
        Array.isArray(s.ids) &&
        s.ids.every((x) => Number.isSafeInteger(x) && (x as number) >= 0) &&
        Array.isArray(s.tokens) &&
        s.tokens.every((x) => typeof x === 'string');
      if (!ok) this.fail(`${where}.special_tokens[${JSON.stringify(name)}]`, 'must be {"id": string, "ids": [integer], "tokens": [string]}');
    }
  }

  component(kind: ComponentKind, c: unknown, where: string, depth: number): void {
    if (!isObject(c) || typeof c.type !== 'string') {
      this.fail(where, `must be an object with a string 'type', got ${JSON.stringify(c) ?? typeof c}`);
    }
    if (depth > MAX_DEPTH) this.fail(where, `nests Sequence deeper than ${MAX_DEPTH} levels`);
    if (!KNOWN_TYPES[kind].has(c.type)) {
      throw new TokenizerError('unsupported', this.file, `${where}.type '${c.type}' is not a known ${kind} type (known: ${[...KNOWN_TYPES[kind]].join(', ')})`);
    }
    const t = `${kind}:${c.type}`;
    if (c.type === 'Sequence') {
      const key = SEQUENCE_FIELD[kind];
      const list = c[key];
      if (!Array.isArray(list)) this.fail(`${where}.${key}`, `must be a list of ${kind}s, got ${JSON.stringify(list) ?? typeof list}`);
      list.forEach((inner: unknown, i) => this.component(kind, inner, `${where}.${key}[${i}]`, depth + 1));
      return;
    }
    switch (t) {
      case 'normalizer:Replace':
      case 'pre_tokenizer:Replace':
      case 'decoder:Replace':
        this.pattern(c, where);
        if (typeof c.content !== 'string') this.fail(`${where}.content`, `must be a string, got ${JSON.stringify(c.content) ?? typeof c.content}`);
        return;
      case 'normalizer:Prepend':
        if (typeof c.prepend !== 'string') this.fail(`${where}.prepend`, `must be a string, got ${JSON.stringify(c.prepend) ?? typeof c.prepend}`);
        return;
      case 'normalizer:Strip':
        this.bool(c, 'strip_left', where);
        this.bool(c, 'strip_right', where);
        return;
      case 'normalizer:BertNormalizer':
        for (const k of ['clean_text', 'handle_chinese_chars', 'strip_accents', 'lowercase']) this.bool(c, k, where);
        return;
      case 'normalizer:Precompiled':
        this.str(c, 'precompiled_charsmap', where);
        return;
      case 'pre_tokenizer:Split':
        this.pattern(c, where);
        this.bool(c, 'invert', where);
        this.oneOf(c, 'behavior', where, ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous']);
        return;
      case 'pre_tokenizer:ByteLevel':
      case 'post_processor:ByteLevel':
      case 'decoder:ByteLevel':
        for (const k of ['add_prefix_space', 'trim_offsets', 'use_regex']) this.bool(c, k, where);
        return;
      case 'pre_tokenizer:Metaspace':
      case 'decoder:Metaspace':
        this.str(c, 'replacement', where);
        this.str(c, 'str_rep', where);
        this.bool(c, 'add_prefix_space', where);
        this.bool(c, 'split', where);
        this.oneOf(c, 'prepend_scheme', where, ['always', 'first', 'never']);
        if (typeof c.replacement === 'string' && [...c.replacement].length !== 1) this.fail(`${where}.replacement`, `must be one character, got ${JSON.stringify(c.replacement)}`);
        return;
      case 'pre_tokenizer:Digits':
        this.bool(c, 'individual_digits', where);
        return;
      case 'pre_tokenizer:Punctuation':
        this.oneOf(c, 'behavior', where, ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous']);
        return;
      case 'pre_tokenizer:FixedLength':
        // length 0 would never advance; the Rust crate defaults to 5.
        this.uint(c, 'length', where, 1);
        return;
      case 'post_processor:TemplateProcessing':
        this.template(c, 'single', where, true);
        this.template(c, 'pair', where, false);
        this.specialTokens(c, where);
        return;
      case 'post_processor:BertProcessing':
      case 'post_processor:RobertaProcessing':
        this.tokenPair(c, 'sep', where);
        this.tokenPair(c, 'cls', where);
        this.bool(c, 'trim_offsets', where);
        this.bool(c, 'add_prefix_space', where);
        return;
      case 'decoder:WordPiece':
        this.str(c, 'prefix', where);
        this.bool(c, 'cleanup', where);
        return;
      case 'decoder:BPEDecoder':
        this.str(c, 'suffix', where);
        return;
      case 'decoder:CTC':
        this.str(c, 'pad_token', where);
        this.str(c, 'word_delimiter_token', where);
        this.bool(c, 'cleanup', where);
        return;
      case 'decoder:Strip':
        if (typeof c.content !== 'string' || [...c.content].length !== 1) this.fail(`${where}.content`, `must be one character, got ${JSON.stringify(c.content) ?? typeof c.content}`);
        this.uint(c, 'start', where);
        this.uint(c, 'stop', where);
        return;
      default:
        // Types without options (NFC, Lowercase, Whitespace, Fuse, ByteFallback, ...).
        return;
    }
  }
}

/**
 * Check one pipeline component of a tokenizer.json (`null` / absent is allowed). Throws
 * TokenizerError('invalid') for a wrong shape and TokenizerError('unsupported') for an unknown type.
 */
export function validateComponent(kind: ComponentKind, value: unknown, file: string): void {
  if (value === null || value === undefined) return;
  new Checker(file).component(kind, value, kind, 0);
}
