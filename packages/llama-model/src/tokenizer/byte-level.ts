/**
 * GPT-2 / tiktoken byte-level alphabet and the Llama-3 pre-tokenizer regex.
 *
 * Byte-level BPE maps every UTF-8 byte to one printable character so that merges operate on
 * strings: printable Latin-1 bytes map to themselves, the other 68 bytes (controls, space, NBSP,
 * soft hyphen) to U+0100.. in byte order. This is `bytes_to_unicode()` from GPT-2, which the
 * Hugging Face ByteLevel pre-tokenizer and decoder use.
 */

/**
 * The 256 bytes in GPT-2 `bytes_to_unicode` order: printable `!`..`~`, `¡`..`¬`, `®`..`ÿ`, then the
 * rest. tiktoken (and so Llama-3's vocab) gives the single-byte tokens ids in exactly this order.
 */
export const BYTE_LEVEL_ORDER: readonly number[] = (() => {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const printable = new Set(bs);
  for (let b = 0; b < 256; b++) if (!printable.has(b)) bs.push(b);
  return bs;
})();

/** `BYTE_TO_CHAR[b]`: the one-character string that stands for byte `b`. [256] */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const out = new Array<string>(256);
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out[b] = String.fromCharCode(printable ? b : 256 + shifted++);
  }
  return out;
})();

/** Inverse of BYTE_TO_CHAR. */
export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

const utf8 = new TextEncoder();

/** UTF-8 bytes of `s` as byte-level characters (`" hi"` → `"Ġhi"`). Lone surrogates become U+FFFD's bytes. */
export function toByteLevel(s: string): string {
  let out = '';
  for (const b of utf8.encode(s)) out += BYTE_TO_CHAR[b];
  return out;
}

/** Byte-level characters back to bytes; a character outside the alphabet returns null. */
export function fromByteLevel(s: string): Uint8Array | null {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const b = CHAR_TO_BYTE.get(s[i]!);
    if (b === undefined) return null;
    out[i] = b;
  }
  return out;
}

/**
 * Llama-3's pre-tokenizer split pattern exactly as its tokenizer.json stores it (Oniguruma syntax,
 * run by the Rust `tokenizers` crate with behavior "Isolated").
 */
export const LLAMA3_SPLIT_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/**
 * The same pattern in JavaScript `u` mode. Oniguruma's `\s` is Unicode White_Space (JS `\s` also
 * matches U+FEFF), and the inline case-insensitive group is spelled out per letter.
 */
export const LLAMA3_SPLIT_REGEX_SOURCE =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\p{White_Space}\\p{L}\\p{N}]+[\\r\\n]*|\\p{White_Space}*[\\r\\n]+|\\p{White_Space}+(?!\\P{White_Space})|\\p{White_Space}+";

/**
 * Translate the subset of Oniguruma that LLaMA-family split patterns use into a JS `gu` regex:
 * `\s`/`\S` → White_Space properties and `(?i:...)` groups of plain letters → per-letter classes.
 * Returns null for anything else, so callers can report the pattern as unsupported.
 */
export function onigurumaToJsRegex(pattern: string): RegExp | null {
  if (pattern === LLAMA3_SPLIT_PATTERN) return new RegExp(LLAMA3_SPLIT_REGEX_SOURCE, 'gu');
  let src = pattern.replace(/\(\?i:([^()]*)\)/g, (_m, body: string) => {
    const caseless = body.replace(/[A-Za-z]/g, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`);
    return `(?:${caseless})`;
  });
  if (/\(\?[a-zA-Z]/.test(src) || /\\[GAzZhH]/.test(src) || src.includes('[:')) return null;
  src = src.replace(/(\\\\)|\\s|\\S/g, (m, esc: string | undefined) =>
    esc ? esc : m === '\\s' ? '\\p{White_Space}' : '\\P{White_Space}',
  );
  try {
    return new RegExp(src, 'gu');
  } catch {
    return null;
  }
}

/** Split `text` so that every regex match is its own piece and the gaps between matches are pieces too ("Isolated"). */
export function splitIsolated(text: string, regex: RegExp): string[] {
  const out: string[] = [];
  let prev = 0;
  regex.lastIndex = 0;
  for (const m of text.matchAll(regex)) {
    const at = m.index ?? 0;
    if (at > prev) out.push(text.slice(prev, at));
    if (m[0].length > 0) out.push(m[0]);
    prev = at + m[0].length;
  }
  if (prev < text.length) out.push(text.slice(prev));
  return out;
}
