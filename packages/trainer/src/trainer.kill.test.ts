/**
 * The real thing: a training process killed with SIGKILL at random moments (mid-step, mid-
 * checkpoint) and restarted resumes to exactly the losses of an uninterrupted in-process run.
 * Node cannot execute TypeScript, so the child is bundled with esbuild first.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '@llama-moe/tensor-core';
import { train } from './trainer.js';
import type { MetricRecord, TrainRecord } from './metrics.js';
import type { TrainConfig } from './config.js';
import { corpusSources, loadTinyMoe, tempDir, tinyMoeModel, tokenizer, removeTempDirs } from '../test/support/fixtures.js';

afterAll(removeTempDirs);

const CFG: Partial<TrainConfig> = {
  max_steps: 14, batch_size: 2, grad_accum: 2, seq_len: 16, lr: 5e-3, warmup_steps: 2, save_every: 2, keep_last: 2, eval_every: 5, eval_blocks: 1,
  stats_every: 3, seed: 5, dynamic: { rule: 'llama_moe', update_every: 5 }, quiet: true,
};

const det = (r: TrainRecord) => [r.step, r.loss, r.ce_loss, r.balance_loss, r.lr, r.grad_norm, r.domain_weights, r.domain_counts, r.expert_load];
const trainsOf = (h: readonly MetricRecord[]) => h.filter((r): r is TrainRecord => r.kind === 'train');
const readMetrics = (out: string): MetricRecord[] => {
  const p = join(out, 'metrics.jsonl');
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8').split('\n').filter((l) => l.trim()).flatMap((l) => { try { return [JSON.parse(l) as MetricRecord]; } catch { return []; } });
};

function runChild(bundle: string, out: string, killAfterStep: number | null, delayMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bundle, out, JSON.stringify(CFG)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    let timer: NodeJS.Timeout | null = null;
    if (killAfterStep !== null) {
      timer = setInterval(() => {
        if (trainsOf(readMetrics(out)).some((r) => r.step >= killAfterStep)) {
          clearInterval(timer!);
          setTimeout(() => child.kill('SIGKILL'), delayMs);
        }
      }, 2);
    }
    child.on('exit', (code, signal) => {
      if (timer) clearInterval(timer);
      resolve({ code, signal, stderr });
    });
  });
}

describe('SIGKILL and resume', () => {
  let bundle = '';
  let reference: TrainRecord[] = [];
  beforeAll(async () => {
    const esbuild = await import('esbuild');
    const dir = tempDir('bundle');
    bundle = join(dir, 'crash-child.mjs');
    await esbuild.build({
      entryPoints: [fileURLToPath(new URL('../test/support/crash-child-main.ts', import.meta.url))], bundle: true, platform: 'node', format: 'esm', target: 'node20',
      outfile: bundle, conditions: ['@llama-moe/source'], logLevel: 'silent',
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
    const r = await train(CFG, { model: tinyMoeModel(3), sources: corpusSources({ docs: 30 }), tokenizer, outDir: tempDir('kill-ref'), loadModel: (d) => loadTinyMoe(d), progress: null });
    reference = trainsOf(r.history);
  });

  it('a run killed at random moments, restarted each time, ends with the uninterrupted per-step losses', async () => {
    const rng = createRng(20240501);
    for (let trial = 0; trial < 2; trial++) {
      const out = tempDir('kill');
      let kills = 0;
      // Kill up to three times at random steps (and a random few ms later: mid-step or mid-checkpoint), then run to the end.
      for (const at of [1 + rng.int(4), 6 + rng.int(3), 10 + rng.int(3)]) {
        const r = await runChild(bundle, out, at, rng.int(25));
        if (r.signal === 'SIGKILL') kills++;
        else expect(r.code, r.stderr).toBe(0);
      }
      const fin = await runChild(bundle, out, null, 0);
      expect(fin.code, fin.stderr).toBe(0);
      expect(kills).toBeGreaterThanOrEqual(1);
      expect(trainsOf(readMetrics(out)).map(det)).toEqual(reference.map(det));
      expect(readdirSync(out).filter((n) => n.includes('checkpoint')).sort()).toEqual(['checkpoint-12', 'checkpoint-14']);
    }
  });
});
