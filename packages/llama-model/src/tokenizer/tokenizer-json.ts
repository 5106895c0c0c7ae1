/**
 * The Hugging Face `tokenizer.json` / `tokenizer_config.json` / `special_tokens_map.json` shapes
 * this package writes and reads, with field names verbatim from the Rust `tokenizers` crate and
 * transformers, plus the serializers that write them the way those libraries do.
 */

/** One entry of `added_tokens` in tokenizer.json. */
import { codePointCompare } from '../io/json-util.js';

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** `model` of a BPE tokenizer.json. `merges` come as `"a b"` strings (older files) or `[a, b]` pairs (newer). */
export interface BpeModelJson {
  type: 'BPE';
  dropout: number | null;
  unk_token: string | null;
  continuing_subword_prefix: string | null;
  end_of_word_suffix: string | null;
  fuse_unk: boolean;
  byte_fallback: boolean;
  ignore_merges?: boolean;
  vocab: Record<string, number>;
  merges: Array<string | [string, string]>;
}

/** Loose view of a component (`{type: 'Sequence', ...}`); only the fields we read are typed. */
export interface ComponentJson {
  type: string;
  [key: string]: unknown;
}

/** A whole tokenizer.json. Other model types are loaded through the same shape and rejected by type. */
export interface TokenizerJson {
  version: string;
  truncation: unknown;
  padding: unknown;
  added_tokens: AddedTokenJson[];
  normalizer: ComponentJson | null;
  pre_tokenizer: ComponentJson | null;
  post_processor: ComponentJson | null;
  decoder: ComponentJson | null;
  model: BpeModelJson | ComponentJson;
}

/** A special token as transformers writes it into special_tokens_map.json. */
export interface SpecialTokenJson {
  content: string;
  lstrip: boolean;
  normalized: boolean;
  rstrip: boolean;
  single_word: boolean;
}

/** tokenizer_config.json: the keys we write and read; transformers keeps unknown keys too. */
export interface TokenizerConfigJson {
  add_bos_token?: boolean;
  add_eos_token?: boolean;
  added_tokens_decoder?: Record<string, Omit<AddedTokenJson, 'id'>>;
  bos_token?: string | SpecialTokenJson | null;
  eos_token?: string | SpecialTokenJson | null;
  unk_token?: string | SpecialTokenJson | null;
  pad_token?: string | SpecialTokenJson | null;
  clean_up_tokenization_spaces?: boolean;
  legacy?: boolean;
  model_max_length?: number;
  tokenizer_class?: string;
  [key: string]: unknown;
}

/** special_tokens_map.json. */
export type SpecialTokensMapJson = Partial<Record<'bos_token' | 'eos_token' | 'unk_token' | 'pad_token', SpecialTokenJson>>;

/** The text of a token given as `"<s>"` or as `{content: "<s>", ...}` (both appear in tokenizer_config.json). */
export function specialTokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') {
    return (v as { content: string }).content;
  }
  return null;
}

/** Rust serde_json string escaping (what tokenizer.json uses): only `"`, `\` and C0 controls are escaped. */
function jsonString(s: string): string {
  return JSON.stringify(s);
}

/**
 * Pretty JSON with 2-space indents. `sortKeys` sorts object keys by code point like Python's
 * `json.dumps(sort_keys=True)`; `orderObject(path, obj)` may return a key order for one object.
 */
function pretty(
  value: unknown,
  level: number,
  path: string,
  sortKeys: boolean,
  orderObject: ((path: string, obj: Record<string, unknown>) => string[] | null) | null,
): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return jsonString(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`serialize: ${path} is ${value}, not a JSON number`);
    return JSON.stringify(value);
  }
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  const pad = '  '.repeat(level + 1);
  const close = '  '.repeat(level);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const items = value.map((v, i) => pad + pretty(v, level + 1, `${path}[${i}]`, sortKeys, orderObject));
    return `[\n${items.join(',\n')}\n${close}]`;
  }
  const obj = value as Record<string, unknown>;
  let keys = orderObject?.(path, obj) ?? Object.keys(obj).filter((k) => obj[k] !== undefined);
  if (sortKeys) keys = [...keys].sort(codePointCompare);
  if (keys.length === 0) return '{}';
  const items = keys.map((k) => `${pad}${jsonString(k)}: ${pretty(obj[k], level + 1, `${path}.${k}`, sortKeys, orderObject)}`);
  return `{\n${items.join(',\n')}\n${close}}`;
}


/**
 * tokenizer.json text as the Rust crate saves it (`save(path, pretty=true)`): 2-space indents, fields
 * in struct order, and the vocab ordered by id. JS objects enumerate integer-like keys ("1", "42")
 * first, so the vocab order is imposed here rather than taken from the object.
 */
export function serializeTokenizerJson(json: TokenizerJson): string {
  return pretty(json, 0, '$', false, (path, obj) => {
    if (path !== '$.model.vocab') return null;
    return Object.keys(obj).sort((a, b) => (obj[a] as number) - (obj[b] as number));
  });
}

/** tokenizer_config.json / special_tokens_map.json text as transformers saves them: sorted keys, indent 2, trailing newline. */
export function serializeConfigJson(json: object): string {
  return pretty(json, 0, '$', true, null) + '\n';
}
