/**
 * Incremental detokenization for streaming generation. Decoding one id at a time is wrong twice
 * over: byte-fallback / byte-level tokens can split a UTF-8 character across ids, and decoders
 * such as LLaMA-2's `Strip(" ", 1, 0)` treat the first token of a sequence differently. So, like
 * the Rust crate's `DecodeStream`, we decode a window that starts one emitted chunk back and emit
 * only the text the newest ids add, and only once it no longer ends in an incomplete character.
 */

export interface DecodeStreamOptions {
  /** Drop special tokens (BOS/EOS, ...) from the text, as `decode(ids, {skipSpecialTokens})`. */
  skipSpecialTokens?: boolean;
}

/**
 * Ids held back waiting for a character to complete before the stream gives up and emits U+FFFD.
 * A UTF-8 character has at most 4 bytes; the slack covers ids that add no text (a stripped
 * leading "▁", skipped special tokens) in front of it.
 */
const MAX_PENDING_IDS = 8;

export class DecodeStream {
  private readonly decodeIds: (ids: readonly number[]) => string;
  /** Every id pushed so far. */
  private readonly ids: number[] = [];
  /** Window start: the first id of the chunk emitted before the last one. */
  private prefixOffset = 0;
  /** Ids before this index have been emitted as text. */
  private readOffset = 0;

  /** `decodeIds` must decode a list of ids exactly as a full decode would (same options). */
  constructor(decodeIds: (ids: readonly number[]) => string) {
    this.decodeIds = decodeIds;
  }

  /** Adds one id; returns the text it completes ('' while a character is still incomplete). */
  push(id: number): string {
    this.ids.push(id);
    const prefix = this.decodeIds(this.ids.slice(this.prefixOffset, this.readOffset));
    const full = this.decodeIds(this.ids.slice(this.prefixOffset));
    const ready = full.length > prefix.length && !full.endsWith('\uFFFD') && full.startsWith(prefix);
    // Past MAX_PENDING_IDS the held bytes can no longer become a character: emit them as they decode.
    if (!ready && this.ids.length - this.readOffset < MAX_PENDING_IDS) return '';
    this.prefixOffset = this.readOffset;
    this.readOffset = this.ids.length;
    // A decoder that rewrites earlier text (clean-up of spaces) breaks the prefix relation: emit nothing.
    return full.startsWith(prefix) ? full.slice(prefix.length) : '';
  }

  /** Text held back at the end of the stream (an incomplete character decodes to U+FFFD). */
  flush(): string {
    if (this.readOffset === this.ids.length) return '';
    const prefix = this.decodeIds(this.ids.slice(this.prefixOffset, this.readOffset));
    const full = this.decodeIds(this.ids.slice(this.prefixOffset));
    this.prefixOffset = this.readOffset;
    this.readOffset = this.ids.length;
    return full.startsWith(prefix) ? full.slice(prefix.length) : '';
  }

  /** All ids pushed so far. */
  get tokens(): readonly number[] {
    return this.ids;
  }
}
