import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { tempDir } from '../../test/support/helpers.js';
import { readJsonl } from './jsonl.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => ({ dir, cleanup } = await tempDir()));
afterAll(async () => cleanup());

const MB = 1 << 20;

test('JSONL reader streams a 50 MB file with bounded memory', async () => {
  const f = join(dir, 'big.jsonl');
  // ~50 MB of ~1 KB lines, written in 1 MB slices so the test itself never holds the file.
  const line = (i: number): string => JSON.stringify({ text: `document ${i} ` + 'lorem ipsum dolor sit amet '.repeat(36) }) + '\n';
  const fh = await open(f, 'w');
  let written = 0;
  let lines = 0;
  while (written < 50 * MB) {
    const parts: string[] = [];
    let n = 0;
    while (n < MB) {
      const l = line(lines++);
      parts.push(l);
      n += l.length;
    }
    await fh.write(parts.join(''));
    written += n;
  }
  await fh.close();

  const mem = (): number => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const base = mem();
  let peak = 0;
  let count = 0;
  let chars = 0;
  for await (const r of readJsonl(f)) {
    count++;
    chars += r.text.length;
    if ((count & 1023) === 0) peak = Math.max(peak, mem() - base);
  }
  expect(count).toBe(lines);
  expect(chars).toBeGreaterThan(45 * MB);
  // Holding the file (50 MB of bytes, ~100 MB as UTF-16) would blow far past this; transient
  // garbage between collections stays well below it.
  expect(peak).toBeLessThan(40 * MB);
});
