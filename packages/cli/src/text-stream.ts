/**
 * Streamed text of `generate`: token ids in, whole UTF-8 characters out. The tokenizer's
 * DecodeStream already holds byte tokens back until they complete a character; what is left held
 * when generation ends (--max-new-tokens reached in the middle of a character) is an incomplete
 * character. Printing it would print U+FFFD ("�") for bytes that are only half a character, so it
 * is dropped, and `end()` says how many such bytes' tokens were left out.
 */
import type { DecodeStream } from '@llama-moe/llama-model';

export class TextStream {
  private readonly stream: DecodeStream;
  private readonly write: (text: string) => void;
  private pending = 0;

  constructor(stream: DecodeStream, write: (text: string) => void) {
    this.stream = stream;
    this.write = write;
  }

  push(id: number): void {
    const piece = this.stream.push(id);
    if (piece) {
      this.write(piece);
      this.pending = 0;
    } else this.pending++;
  }

  /** Writes what completes; returns the number of trailing tokens that ended inside a character (not written). */
  end(): number {
    const rest = this.stream.flush();
    // The held tokens decode to the text they complete plus U+FFFD for an unfinished character.
    const whole = rest.replace(/\uFFFD+$/, '');
    if (whole) this.write(whole);
    return whole.length < rest.length ? this.pending : 0;
  }
}
