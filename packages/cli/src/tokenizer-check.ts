/**
 * A packed dataset records the hash of the tokenizer that made it (`tokenizer_hash` in
 * llama_moe_dataset.json). Feeding it to a model with another tokenizer gives no error anywhere
 * downstream, only meaningless numbers (a perplexity of 176,437 on the demo model), so every
 * command that reads packed data through a model compares the two hashes first.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MANIFEST_NAME, tokenizerHash, type PackedDatasetManifest } from '@llama-moe/data-sampler';
import { loadTokenizer } from '@llama-moe/llama-model/node';
import { CliError } from './errors.js';
import { samplerTokenizer } from './commands/data-prepare.js';

/** The flag (and, in a train config, the key `allow_tokenizer_mismatch`) that accepts a mismatch. */
export const ALLOW_MISMATCH_FLAG = '--allow-tokenizer-mismatch';

/** The hash `data prepare` records for the tokenizer.json of `modelDir`, or null when the folder has none. */
export function modelTokenizerHash(modelDir: string): string | null {
  const file = join(modelDir, 'tokenizer.json');
  if (!existsSync(file)) return null;
  return tokenizerHash(samplerTokenizer(loadTokenizer(modelDir, { engine: 'auto' }), file));
}

export interface TokenizerCheck {
  /** Option that named the dataset in the user's command, e.g. `--data` or `data` (config key). */
  dataOption: string;
  /** Option that named the model, e.g. `--model` or `model`. */
  modelOption: string;
  allowMismatch: boolean;
  /** Where warnings go (one line each, newline added). */
  warn: (line: string) => void;
}

/**
 * Refuse (exit 1) when the packed dataset in `dataDir` was made with another tokenizer than the
 * model's; with `allowMismatch` only warn. Folders of raw text (no manifest) are tokenised with
 * the model's own tokenizer and need no check.
 */
export function checkDataTokenizer(dataDir: string, modelDir: string, o: TokenizerCheck): void {
  const manifestFile = join(dataDir, MANIFEST_NAME);
  if (!existsSync(manifestFile)) return;
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Partial<PackedDatasetManifest>;
  const packedWith = typeof manifest.tokenizer_hash === 'string' ? manifest.tokenizer_hash : null;
  const modelHas = modelTokenizerHash(modelDir);
  if (modelHas === null) {
    o.warn(`warning: ${o.modelOption} ${modelDir} has no tokenizer.json, so the tokenizer of ${o.dataOption} ${dataDir} (${packedWith ?? 'unrecorded'}) cannot be checked`);
    return;
  }
  if (packedWith === modelHas) return;
  const what = `${o.dataOption} ${dataDir} was packed with tokenizer ${packedWith ?? '(not recorded)'}, but ${o.modelOption} ${modelDir} has tokenizer ${modelHas}`;
  if (o.allowMismatch) {
    o.warn(`warning: ${what}; going on because of ${o.dataOption.startsWith('--') ? ALLOW_MISMATCH_FLAG : 'allow_tokenizer_mismatch'}`);
    return;
  }
  throw new CliError(what, `re-pack the data with \`llama-moe data prepare --tokenizer ${join(modelDir, 'tokenizer.json')}\`, or pass ${ALLOW_MISMATCH_FLAG} to use it anyway`);
}
