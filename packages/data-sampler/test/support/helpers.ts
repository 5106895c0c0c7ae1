import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { byteLevelTokenizer } from '../../src/tokenizer.js';

/** The deterministic byte-level tokenizer tests use (id = byte + 3; 0 pad, 1 BOS, 2 EOS). */
export const tok = byteLevelTokenizer();

/** A fresh temp folder and its cleanup. */
export async function tempDir(prefix = 'ds-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Collects an async iterable. */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
