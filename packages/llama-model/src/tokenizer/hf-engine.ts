/**
 * Engine backed by @huggingface/tokenizers (Tokenizers.js), the default for real Hugging Face
 * tokenizer.json files. Its constructor errors are rethrown as TokenizerError naming the file.
 *
 * One fix is applied to the library (0.2.0): its ByteFallback decoder uses a default TextDecoder,
 * which drops a U+FEFF at the start of every byte run as if it were a byte-order mark, so
 * "\uFEFF" would decode to "". The Rust crate keeps it; we swap in a BOM-preserving decoder.
 */
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { TokenizerError } from './errors.js';
import type { TokenizerEngine } from './native-engine.js';
import type { TokenizerConfigJson, TokenizerJson } from './tokenizer-json.js';

/** The fields of a Tokenizers.js decoder object that `keepByteOrderMarks` touches. */
interface LibDecoderNode {
  config?: { type?: string };
  decoders?: LibDecoderNode[];
  text_decoder?: TextDecoder;
}

export class HfEngine implements TokenizerEngine {
  private readonly tok: HfTokenizer;

  constructor(json: TokenizerJson, config: TokenizerConfigJson, file: string) {
    // The library reports some bad components (a Replace / Split pattern that is neither String
    // nor Regex) with console.warn and then silently skips them. validateTokenizerJson rejects
    // those first; any warning that still comes out of construction is turned into an error here
    // instead of reaching the console, so a half-built tokenizer is never used.
    const warnings: string[] = [];
    const consoleWarn = console.warn;
    console.warn = (...args: unknown[]) => {
      warnings.push(args.map((a) => (typeof a === 'string' ? a : (JSON.stringify(a) ?? String(a)))).join(' '));
    };
    try {
      // Clean-up of tokenization spaces is applied by the wrapper for every engine alike.
      this.tok = new HfTokenizer(json, { ...config, clean_up_tokenization_spaces: false });
    } catch (e) {
      throw new TokenizerError('unsupported', file, `@huggingface/tokenizers cannot build this tokenizer: ${(e as Error)?.message ?? String(e)}`);
    } finally {
      console.warn = consoleWarn;
    }
    if (warnings.length > 0) {
      throw new TokenizerError('invalid', file, `@huggingface/tokenizers rejected a component: ${warnings[0]!.slice(0, 200)}`);
    }
    HfEngine.keepByteOrderMarks((this.tok as unknown as { decoder: LibDecoderNode | null }).decoder);
  }

  /**
   * Give every ByteFallback decoder in the chain a TextDecoder that keeps U+FEFF. The library's
   * decoder classes are walked by their public `config` / `decoders` / `text_decoder` fields (its
   * .d.ts files use extensionless re-exports that NodeNext resolution cannot follow).
   */
  private static keepByteOrderMarks(d: LibDecoderNode | null | undefined): void {
    if (!d) return;
    if (d.config?.type === 'ByteFallback' && d.text_decoder) d.text_decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    for (const inner of d.decoders ?? []) HfEngine.keepByteOrderMarks(inner);
  }

  encode(text: string): number[] {
    const ids: Array<number | undefined> = this.tok.encode(text, { add_special_tokens: false }).ids;
    // A piece the vocabulary lacks comes back as the unk id, which is undefined when model.unk_token
    // is null (or names no token); the Rust crate drops such pieces, so do we.
    return ids.filter((id): id is number => Number.isSafeInteger(id));
  }

  decode(ids: readonly number[], skipSpecialTokens: boolean): string {
    // Tokenizers.js rejects an empty id list; an empty list decodes to ''.
    if (ids.length === 0) return '';
    return this.tok.decode(ids as number[], { skip_special_tokens: skipSpecialTokens, clean_up_tokenization_spaces: false });
  }
}
