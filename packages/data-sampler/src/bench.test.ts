import { expect, test } from 'vitest';
import { benchPack } from './bench.js';

test('benchPack reports consistent counts and positive rates', () => {
  const r = benchPack({ mb: 0.3, seqLen: 128 });
  expect(r.bytes).toBeGreaterThanOrEqual(0.3e6);
  // Byte-level tokenizer: one token per byte plus a BOS per document.
  expect(r.tokens).toBe(r.bytes + r.documents);
  expect(r.blocks).toBeGreaterThanOrEqual(Math.floor(r.tokens / 128) - 7);
  expect(r.mbPerSec).toBeGreaterThan(0);
  expect(r.tokensPerSec).toBeGreaterThan(r.mbPerSec);
});
