/** split checks up front that its output fits (one tensor in memory, the disk, the machine's memory). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readLlamaConfig } from '@llama-moe/llama-model/node';
import { cli, listTree, tempDir, tinyModel } from './helpers.js';
import { splitSize } from '../src/split-size-check.js';

let root: string, model: string;

beforeAll(async () => {
  root = tempDir();
  model = await tinyModel(root);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function folderBytes(dir: string): number {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors')).reduce((a, f) => a + fs.statSync(path.join(dir, f)).size, 0);
}

describe('split size check', () => {
  test('--experts 100000 --method upcycle: one line before anything is written, not "Invalid typed array length"', async () => {
    const out = path.join(root, 'huge');
    const r = await cli(['split', '--model', model, '--out', out, '--experts', '100000', '--top-k', '2', '--method', 'upcycle']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^llama-moe split: --experts 100000 --method upcycle: the \[E, E\] gate matrix would hold 10,000,000,000 values/);
    expect(r.stderr).not.toContain('Invalid typed array');
    expect(listTree(root).filter((f) => f.includes('huge'))).toEqual([]);
  });

  test('an output larger than the free disk space is refused, naming both sizes', async () => {
    // A LLaMA-2-7B config.json alone: the check needs no tensor.
    const fake = path.join(root, 'fake-7b');
    fs.mkdirSync(fake);
    fs.writeFileSync(path.join(fake, 'config.json'), JSON.stringify({ model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 32000, hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 32, max_position_embeddings: 4096, rms_norm_eps: 1e-5, torch_dtype: 'bfloat16' }));
    const r = await cli(['split', '--model', fake, '--out', path.join(root, 'up7b'), '--experts', '512', '--top-k', '2', '--method', 'upcycle']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^llama-moe split: --experts 512 --method upcycle: the output needs about [\d.]+ TB, and .* has [\d.]+ \w?B free \(use fewer --experts/);
  });

  test('the estimate matches what split writes', async () => {
    for (const [method, E] of [['upcycle', 4], ['random', 8]] as const) {
      const out = path.join(root, `${method}-${E}`);
      const r = await cli(['split', '--model', model, '--out', out, '--experts', String(E), '--top-k', '2', '--method', method, '--quiet']);
      expect(r.code, r.stderr).toBe(0);
      const est = splitSize({ cfg: readLlamaConfig(model), experts: E, method, format: 'llama-moe', dtype: 'float32', inMemory: false }).outputBytes;
      const real = folderBytes(out);
      expect(Math.abs(est - real) / real, `${method}: estimate ${est}, written ${real}`).toBeLessThan(0.02);
    }
  });
});
