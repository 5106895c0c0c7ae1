/** Unicode helpers shared by the trainer and the encoder. */

/**
 * Replace lone UTF-16 surrogates with U+FFFD (String.prototype.toWellFormed, ES2024). The Rust
 * tokenizers crate only ever sees well-formed strings, so this is what it would encode.
 */
export function toWellFormed(s: string): string {
  return s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}
