/** generate's streamed text: whole characters only, also when generation stops inside one. */
import * as fs from 'node:fs';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadTokenizer, type Tokenizer } from '@llama-moe/llama-model/node';
import { tempDir, tinyModel } from './helpers.js';
import { TextStream } from '../src/text-stream.js';

let root: string, tok: Tokenizer;
beforeAll(async () => {
  root = tempDir();
  tok = loadTokenizer(await tinyModel(root));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const byte = (b: number) => tok.tokenToId(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`)!;

function streamed(ids: number[]): { chunks: string[]; unfinished: number } {
  const chunks: string[] = [];
  const s = new TextStream(tok.decodeStream({ skipSpecialTokens: true }), (t) => chunks.push(t));
  for (const id of ids) s.push(id);
  return { chunks, unfinished: s.end() };
}

test('byte tokens are held until their character is complete', () => {
  const { chunks, unfinished } = streamed([byte(0xc3), byte(0xa9), byte(0xe2), byte(0x82), byte(0xac)]);
  expect(chunks).toEqual(['é', '€']);
  expect(unfinished).toBe(0);
});

test('generation stopping inside a character prints no "\uFFFD" and reports the tokens left out', () => {
  const { chunks, unfinished } = streamed([byte(0xc3), byte(0xa9), byte(0xe2), byte(0x82)]);
  expect(chunks.join('')).toBe('é');
  expect(chunks.join('')).not.toContain('\uFFFD');
  expect(unfinished).toBe(2);
});

test('invalid bytes in the middle still print as the full decode does', () => {
  const ids = [byte(0xa9), byte(0x41)];
  expect(streamed(ids).chunks.join('')).toBe(tok.decode(ids, { skipSpecialTokens: true }));
});
