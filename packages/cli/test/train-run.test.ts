/**
 * The output folder of `train` through the real bin: Ctrl-C (SIGINT) says where the run stopped
 * and how to resume; the next run removes staging leftovers and names the checkpoint it resumes
 * from; a finished run has final/; a run that fails before its first checkpoint leaves no folder.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateCorpus, writeCorpus } from '@llama-moe/data-sampler';
import { cli, tempDir, tinyModel } from './helpers.js';

const BIN = fileURLToPath(new URL('../bin/llama-moe.mjs', import.meta.url));
let root: string, model: string, packed: string;

beforeAll(async () => {
  root = tempDir();
  model = await tinyModel(root);
  const corpus = path.join(root, 'corpus');
  await writeCorpus(corpus, generateCorpus({ seed: 4, docsPerDomain: 20, domains: ['wikipedia', 'book'] }));
  packed = path.join(root, 'packed');
  const r = await cli(['data', 'prepare', '--input', corpus, '--tokenizer', path.join(model, 'tokenizer.json'), '--seq-len', '32', '--out', packed, '--quiet']);
  if (r.code !== 0) throw new Error(r.stderr);
}, 120_000);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function config(name: string, extra: Record<string, number> = {}): { conf: string; out: string } {
  const out = path.join(root, name);
  const conf = path.join(root, `${name}.yaml`);
  const keys = { batch_size: 2, warmup_steps: 1, eval_every: 0, eval_blocks: 1, save_every: 2, seed: 1, ...extra };
  fs.writeFileSync(conf, `model: ${model}\ndata: ${packed}\noutput_dir: ${out}\n${Object.entries(keys).map(([k, v]) => `${k}: ${v}\n`).join('')}`);
  return { conf, out };
}

/** Run the bin; `onStderr` may send it a signal. */
function bin(args: string[], onStderr?: (text: string, kill: (s: NodeJS.Signals) => void) => void): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '', stdout = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => {
      stderr += d;
      onStderr?.(stderr, (s) => p.kill(s));
    });
    p.on('error', reject);
    p.on('exit', (code) => resolve({ code, stderr, stdout }));
  });
}

describe('train output folder', () => {
  test.runIf(process.platform === 'linux')('SIGINT stops between steps with one line saying where and how to resume; the rerun says it resumes', async () => {
    const { conf, out } = config('sigint', { max_steps: 100000, log_every: 1 });
    let sent = false;
    const r = await bin(['train', '--config', conf], (text, kill) => {
      if (!sent && fs.existsSync(path.join(out, 'checkpoint-2'))) {
        sent = true;
        kill('SIGINT');
      }
    });
    expect(sent).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('interrupt received: stopping after the current step');
    const last = r.stderr.trim().split('\n').pop()!;
    expect(last).toMatch(/^llama-moe train: interrupted after step \d+; the last complete checkpoint is .*checkpoint-\d+ \(step \d+\) \(run the same command again to resume from checkpoint-\d+; steps after it are repeated exactly\)$/);
    const ck = /resume from (checkpoint-\d+)/.exec(last)![1]!;
    expect(fs.readdirSync(out).filter((n) => n.includes('.tmp-'))).toEqual([]);
    // A staging leftover of a killed run (as pruning leaves it) is removed and reported by the next run.
    const leftover = path.join(out, 'checkpoint-1.tmp-999999-pruned');
    fs.mkdirSync(leftover);
    const step = Number(ck.split('-')[1]);
    let resumedSeen = false;
    const again = await bin(['train', '--config', conf], (text, kill) => {
      if (!resumedSeen && text.includes('resuming from')) {
        resumedSeen = true;
        kill('SIGINT');
      }
    });
    expect(again.code, again.stderr).toBe(130);
    expect(again.stderr).toContain(`removed ${leftover}, left half-written by an interrupted run`);
    expect(again.stderr).toContain(`resuming from ${path.join(out, ck)} (step ${step})`);
    expect(fs.existsSync(leftover)).toBe(false);
  }, 120_000);

  test('a finished run has final/: the last checkpoint\'s model files, no optimizer state', async () => {
    const { conf, out } = config('final', { max_steps: 3, eval_every: 2 });
    const r = await cli(['train', '--config', conf]);
    expect(r.code, r.stderr).toBe(0);
    // The trainer's formatted eval line only, not a raw debug dump of the record.
    expect(r.stderr).not.toMatch(/^eval step \d+: /m);
    expect(r.stdout).toContain(`final model ${path.join(out, 'final')}`);
    const files = fs.readdirSync(path.join(out, 'final')).sort();
    expect(files).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
    expect(fs.readFileSync(path.join(out, 'final', 'model.safetensors')).equals(fs.readFileSync(path.join(out, 'checkpoint-3', 'model.safetensors')))).toBe(true);
    const g = await cli(['generate', '--model', path.join(out, 'final'), '--tokens', '1,5', '--max-new-tokens', '2', '--quiet']);
    expect(g.code, g.stderr).toBe(0);
  });

  test('a run that fails before its first checkpoint leaves no output folder behind', async () => {
    // More held-out blocks than the data has: the trainer fails while setting up, after creating output_dir.
    const { conf, out } = config('fails', { max_steps: 2, eval_blocks: 100000 });
    const r = await cli(['train', '--config', conf]);
    expect(r.stderr).toMatch(/holdout: domain "\w+" has only \d+ block/);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(fs.existsSync(out)).toBe(false);
  });
});
