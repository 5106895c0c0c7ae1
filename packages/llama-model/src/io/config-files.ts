/** config.json files on disk (Node): read with errors naming the file, atomic write. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from './errors.js';
import { atomicWriteFile } from './atomic.js';
import { parseLlamaConfigText, serializeLlamaConfig, type LlamaConfig, type ParsedLlamaConfig } from './config.js';

/** Read `<dir>/config.json` (or the given .json file); errors name the file. */
export function readLlamaConfigDetailed(dirOrFile: string): ParsedLlamaConfig {
  const file = dirOrFile.endsWith('.json') ? dirOrFile : path.join(dirOrFile, 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, null, `cannot read: ${(e as Error).message}`);
  }
  return parseLlamaConfigText(text, file);
}

export function readLlamaConfig(dirOrFile: string): LlamaConfig {
  return readLlamaConfigDetailed(dirOrFile).config;
}

/** Atomically write `<dir>/config.json`. */
export function writeLlamaConfig(dir: string, cfg: LlamaConfig): string {
  const file = path.join(dir, 'config.json');
  atomicWriteFile(file, serializeLlamaConfig(cfg));
  return file;
}
