/**
 * Native tokenizer pipeline for the LLaMA family of Hugging Face tokenizer.json files: added-token
 * splitting → normalizer → pre-tokenizer → BPE model → (decode) decoder chain. It follows the Rust
 * `tokenizers` crate, including where that differs from @huggingface/tokenizers (Metaspace
 * `split: true`, one U+FFFD per invalid byte in ByteFallback), and covers exactly the components
 * LLaMA-2 (SentencePiece-BPE converted) and LLaMA-3 (tiktoken-like byte-level BPE) files use, plus
 * the few neighbours they are built from. Anything else is rejected by name.
 */
import { BpeModel } from './bpe-model.js';
import { BYTE_TO_CHAR, CHAR_TO_BYTE, onigurumaToJsRegex, splitIsolated } from './byte-level.js';
import { TokenizerError } from './errors.js';
import type { AddedTokenJson, BpeModelJson, ComponentJson, TokenizerJson } from './tokenizer-json.js';

/** What the Tokenizer wrapper needs from an engine. Ids never include post-processor tokens. */
export interface TokenizerEngine {
  /** Ids of `text` without BOS/EOS (added tokens inside the text are matched). */
  encode(text: string): number[];
  /** Text of `ids` (all in range); no clean-up of tokenization spaces. */
  decode(ids: readonly number[], skipSpecialTokens: boolean): string;
}

type Normalize = (s: string) => string;
type PreTokenize = (s: string, sectionIndex: number) => string[];
type DecodeChain = (tokens: string[]) => string[];

/** The pattern of a Replace / Split component: `{String: " "}` or `{Regex: "..."}`. */
function patternOf(c: ComponentJson, file: string, where: string): RegExp {
  const p = c.pattern as { String?: unknown; Regex?: unknown } | undefined;
  if (p && typeof p.String === 'string') return new RegExp(p.String.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gu');
  if (p && typeof p.Regex === 'string') {
    const re = onigurumaToJsRegex(p.Regex);
    if (re) return re;
    throw new TokenizerError('unsupported', file, `${where}.pattern.Regex ${JSON.stringify(p.Regex)} uses Oniguruma syntax this implementation does not translate`);
  }
  throw new TokenizerError('invalid', file, `${where}.pattern must be {"String": ...} or {"Regex": ...}`);
}

function buildNormalizer(c: ComponentJson | null, file: string, where = 'normalizer'): Normalize | null {
  if (c === null || c === undefined) return null;
  switch (c.type) {
    case 'Sequence': {
      const parts = ((c.normalizers as ComponentJson[] | undefined) ?? []).map((x, i) => buildNormalizer(x, file, `${where}.normalizers[${i}]`));
      return (s) => parts.reduce((t, f) => (f ? f(t) : t), s);
    }
    case 'Prepend': {
      const prepend = String(c.prepend ?? '');
      // The Rust crate leaves an empty string empty (nothing to prepend to).
      return (s) => (s.length === 0 ? s : prepend + s);
    }
    case 'Replace': {
      const re = patternOf(c, file, where);
      const content = String(c.content ?? '');
      return (s) => s.replace(re, () => content);
    }
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD': {
      const form = c.type;
      return (s) => s.normalize(form);
    }
    case 'Lowercase':
      return (s) => s.toLowerCase();
    default:
      throw new TokenizerError('unsupported', file, `${where}.type '${c.type}' is not supported by the native engine (LLaMA tokenizers use Prepend/Replace)`);
  }
}

/** GPT-2's ByteLevel split pattern (used when a ByteLevel pre-tokenizer has use_regex true). */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;

const utf8 = new TextEncoder();

function buildPreTokenizer(c: ComponentJson | null, file: string, where = 'pre_tokenizer'): PreTokenize | null {
  if (c === null || c === undefined) return null;
  switch (c.type) {
    case 'Sequence': {
      const parts = ((c.pretokenizers as ComponentJson[] | undefined) ?? []).map((x, i) => buildPreTokenizer(x, file, `${where}.pretokenizers[${i}]`));
      return (s, section) => parts.reduce<string[]>((pieces, f) => (f ? pieces.flatMap((p) => f(p, section)) : pieces), [s]);
    }
    case 'Split': {
      if (c.invert === true) throw new TokenizerError('unsupported', file, `${where}.invert true is not supported`);
      const re = patternOf(c, file, where);
      const behavior = String(c.behavior ?? 'Isolated');
      if (behavior === 'Isolated') return (s) => splitIsolated(s, re);
      if (behavior === 'Removed') return (s) => s.split(re).filter((x) => x.length > 0);
      throw new TokenizerError('unsupported', file, `${where}.behavior '${behavior}' is not supported (Isolated and Removed are)`);
    }
    case 'ByteLevel': {
      const addPrefixSpace = c.add_prefix_space === true;
      const useRegex = c.use_regex !== false;
      return (s) => {
        const text = addPrefixSpace && !s.startsWith(' ') ? ' ' + s : s;
        const pieces = useRegex ? splitIsolated(text, GPT2_SPLIT) : [text];
        return pieces.map((p) => {
          let out = '';
          for (const b of utf8.encode(p)) out += BYTE_TO_CHAR[b];
          return out;
        });
      };
    }
    case 'Metaspace': {
      const replacement = String(c.replacement ?? '▁');
      const scheme = String(c.prepend_scheme ?? (c.add_prefix_space === false ? 'never' : 'always'));
      const split = c.split !== false;
      return (s, section) => {
        let t = s.replaceAll(' ', replacement);
        if (!t.startsWith(replacement) && (scheme === 'always' || (scheme === 'first' && section === 0))) t = replacement + t;
        if (!split) return [t];
        // MergedWithNext: every replacement character starts a new piece.
        const out: string[] = [];
        let start = 0;
        for (let i = 1; i < t.length; i++) {
          if (t.startsWith(replacement, i)) {
            out.push(t.slice(start, i));
            start = i;
          }
        }
        if (t.length > 0) out.push(t.slice(start));
        return out;
      };
    }
    default:
      throw new TokenizerError('unsupported', file, `${where}.type '${c.type}' is not supported by the native engine`);
  }
}

/** `<0xAB>` → 0xAB, anything else → -1. */
function byteTokenValue(tok: string): number {
  if (tok.length !== 6 || !tok.startsWith('<0x') || tok[5] !== '>') return -1;
  const hex = tok.slice(3, 5);
  return /^[0-9A-Fa-f]{2}$/.test(hex) ? parseInt(hex, 16) : -1;
}

// ignoreBOM: a decoded U+FEFF is text like any other, not a byte-order mark to drop.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lossyUtf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

function buildDecoder(c: ComponentJson | null, file: string, where = 'decoder'): DecodeChain | null {
  if (c === null || c === undefined) return null;
  switch (c.type) {
    case 'Sequence': {
      const parts = ((c.decoders as ComponentJson[] | undefined) ?? []).map((x, i) => buildDecoder(x, file, `${where}.decoders[${i}]`));
      return (tokens) => parts.reduce((t, f) => (f ? f(t) : t), tokens);
    }
    case 'Replace': {
      const re = patternOf(c, file, where);
      const content = String(c.content ?? '');
      return (tokens) => tokens.map((t) => t.replace(re, () => content));
    }
    case 'ByteFallback':
      return (tokens) => {
        const out: string[] = [];
        let bytes: number[] = [];
        const flush = (): void => {
          if (bytes.length === 0) return;
          try {
            out.push(strictUtf8.decode(Uint8Array.from(bytes)));
          } catch {
            // The Rust crate emits one U+FFFD per byte of an invalid run.
            for (let i = 0; i < bytes.length; i++) out.push('\uFFFD');
          }
          bytes = [];
        };
        for (const t of tokens) {
          const b = byteTokenValue(t);
          if (b >= 0) bytes.push(b);
          else {
            flush();
            out.push(t);
          }
        }
        flush();
        return out;
      };
    case 'Fuse':
      return (tokens) => [tokens.join('')];
    case 'Strip': {
      const content = String(c.content ?? ' ');
      const start = Number(c.start ?? 0);
      const stop = Number(c.stop ?? 0);
      return (tokens) =>
        tokens.map((t) => {
          const chars = Array.from(t);
          let a = 0;
          while (a < start && a < chars.length && chars[a] === content) a++;
          let z = chars.length;
          while (chars.length - z < stop && z > a && chars[z - 1] === content) z--;
          return chars.slice(a, z).join('');
        });
    }
    case 'ByteLevel':
      return (tokens) => {
        const bytes: number[] = [];
        for (const t of tokens) {
          let mapped: number[] | null = [];
          for (const ch of t) {
            const b = CHAR_TO_BYTE.get(ch);
            if (b === undefined) {
              mapped = null;
              break;
            }
            mapped.push(b);
          }
          // A token with a character outside the byte alphabet is taken as plain UTF-8 (Rust behaviour).
          if (mapped) bytes.push(...mapped);
          else bytes.push(...utf8.encode(t));
        }
        return [lossyUtf8.decode(Uint8Array.from(bytes))];
      };
    case 'Metaspace': {
      const replacement = String(c.replacement ?? '▁');
      const scheme = String(c.prepend_scheme ?? (c.add_prefix_space === false ? 'never' : 'always'));
      return (tokens) =>
        tokens.map((t, i) => {
          const s = t.replaceAll(replacement, ' ');
          return i === 0 && scheme !== 'never' && s.startsWith(' ') ? s.slice(1) : s;
        });
    }
    default:
      throw new TokenizerError('unsupported', file, `${where}.type '${c.type}' is not supported by the native engine`);
  }
}

/** Native engine over a validated tokenizer.json (see `validateTokenizerJson`). */
export class NativeEngine implements TokenizerEngine {
  readonly model: BpeModel;
  private readonly normalizer: Normalize | null;
  private readonly preTokenizer: PreTokenize | null;
  private readonly decoder: DecodeChain | null;
  private readonly added: AddedTokenJson[];
  private readonly addedByContent = new Map<string, AddedTokenJson>();
  private readonly addedById = new Map<number, AddedTokenJson>();
  /** Leftmost-longest matcher over added-token contents (longest alternatives first), or null. */
  private readonly addedRegex: RegExp | null;

  constructor(json: TokenizerJson, file: string) {
    this.model = new BpeModel(json.model as BpeModelJson, file);
    this.normalizer = buildNormalizer(json.normalizer, file);
    this.preTokenizer = buildPreTokenizer(json.pre_tokenizer, file);
    this.decoder = buildDecoder(json.decoder, file);
    this.added = json.added_tokens ?? [];
    for (const t of this.added) {
      this.addedByContent.set(t.content, t);
      this.addedById.set(t.id, t);
    }
    const contents = [...this.addedByContent.keys()].filter((s) => s.length > 0).sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
    this.addedRegex = contents.length === 0 ? null : new RegExp(contents.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'gu');
  }

  /** Text split into plain sections and added tokens, with lstrip/rstrip applied to the neighbours. */
  private splitAdded(text: string): Array<string | AddedTokenJson> {
    if (this.addedRegex === null) return [text];
    const parts: Array<string | AddedTokenJson> = [];
    let prev = 0;
    for (const m of text.matchAll(this.addedRegex)) {
      const at = m.index ?? 0;
      parts.push(text.slice(prev, at));
      parts.push(this.addedByContent.get(m[0])!);
      prev = at + m[0].length;
    }
    parts.push(text.slice(prev));
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (typeof p === 'string') continue;
      if (p.lstrip && typeof parts[i - 1] === 'string') parts[i - 1] = (parts[i - 1] as string).trimEnd();
      if (p.rstrip && typeof parts[i + 1] === 'string') parts[i + 1] = (parts[i + 1] as string).trimStart();
    }
    return parts;
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    let section = 0;
    for (const part of this.splitAdded(text)) {
      if (typeof part !== 'string') {
        ids.push(part.id);
        section++;
        continue;
      }
      if (part.length === 0) continue;
      const normalized = this.normalizer ? this.normalizer(part) : part;
      const pieces = this.preTokenizer ? this.preTokenizer(normalized, section) : [normalized];
      for (const piece of pieces) this.model.encodeWord(piece, ids);
      section++;
    }
    return ids;
  }

  decode(ids: readonly number[], skipSpecialTokens: boolean): string {
    const tokens: string[] = [];
    for (const id of ids) {
      const added = this.addedById.get(id);
      if (added) {
        if (!(skipSpecialTokens && added.special)) tokens.push(added.content);
        continue;
      }
      tokens.push(this.model.idToToken[id]!);
    }
    return this.decoder ? this.decoder(tokens).join('') : tokens.join(' ');
  }
}
