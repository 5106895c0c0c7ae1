/**
 * Reading and writing the Hugging Face tokenizer files of a model folder: tokenizer.json (required),
 * tokenizer_config.json, special_tokens_map.json and generation_config.json (optional).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { atomicWriteFile } from '../io/atomic.js';
import { TokenizerError } from './errors.js';
import { Tokenizer, type TokenizerFiles, type TokenizerOptions } from './tokenizer.js';
import { serializeConfigJson, serializeTokenizerJson, type TokenizerJson } from './tokenizer-json.js';

/** Parse a JSON file; a missing optional file gives undefined, a missing required one throws. */
function readJson(file: string, required: boolean): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !required) return undefined;
    if (code === 'ENOENT') throw new TokenizerError('missing-file', file, 'file not found; a Hugging Face tokenizer folder needs tokenizer.json');
    throw new TokenizerError('missing-file', file, `cannot read: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TokenizerError('invalid-json', file, `not valid JSON (${(e as Error).message})`);
  }
}

/** The parsed tokenizer files of a model folder (or of a tokenizer.json path and its siblings). */
export function readTokenizerFiles(location: string): TokenizerFiles {
  let dir = location;
  let tokenizerPath = path.join(location, 'tokenizer.json');
  if (location.endsWith('.json') || (fs.existsSync(location) && fs.statSync(location).isFile())) {
    tokenizerPath = location;
    dir = path.dirname(location);
  } else if (!fs.existsSync(location)) {
    throw new TokenizerError('missing-file', tokenizerPath, `folder '${location}' does not exist`);
  }
  const tokenizerJson = readJson(tokenizerPath, true);
  const tokenizerConfig = readJson(path.join(dir, 'tokenizer_config.json'), false);
  const specialTokensMap = readJson(path.join(dir, 'special_tokens_map.json'), false);
  const generationConfig = readJson(path.join(dir, 'generation_config.json'), false);
  return { tokenizerJson, tokenizerConfig, specialTokensMap, generationConfig, path: tokenizerPath };
}

/**
 * A Tokenizer from a model folder, a tokenizer.json path, or already-parsed files
 * (`{tokenizerJson, tokenizerConfig}`). Errors are TokenizerError naming the file.
 */
export function loadTokenizer(source: string | TokenizerFiles, options: TokenizerOptions = {}): Tokenizer {
  const files = typeof source === 'string' ? readTokenizerFiles(source) : source;
  return new Tokenizer(files, options);
}

/** What `saveTokenizerFiles` writes. */
export interface TokenizerFilesToSave {
  tokenizerJson: TokenizerJson;
  tokenizerConfig: object;
  specialTokensMap?: object | null;
}

/**
 * Write tokenizer.json, tokenizer_config.json and (when given) special_tokens_map.json into `dir`
 * (created if needed), each atomically, in the byte layout the Hugging Face libraries write.
 * Returns the paths written.
 */
export function saveTokenizerFiles(dir: string, files: TokenizerFilesToSave): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const put = (name: string, text: string): void => {
    const target = path.join(dir, name);
    atomicWriteFile(target, text);
    written.push(target);
  };
  put('tokenizer.json', serializeTokenizerJson(files.tokenizerJson));
  put('tokenizer_config.json', serializeConfigJson(files.tokenizerConfig));
  if (files.specialTokensMap) put('special_tokens_map.json', serializeConfigJson(files.specialTokensMap));
  return written;
}
