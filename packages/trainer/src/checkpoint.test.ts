import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Tensor, setBackend } from '@llama-moe/tensor-core';
import { disposeWasmBackend, initWasmBackend } from '@llama-moe/tensor-core/wasm';
import { listCheckpoints, pruneCheckpoints, readOptimizerState, removePartialCheckpoints, writeOptimizerState } from './checkpoint.js';
import { AdamW } from './optim/adamw.js';

const work = mkdtempSync(join(tmpdir(), 'ckpt-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function fakeCheckpoint(dir: string, step: number): void {
  const d = join(dir, `checkpoint-${step}`);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'model.safetensors'), 'x');
  writeFileSync(join(d, 'trainer_state.json'), '{}');
}

describe('checkpoint rotation', () => {
  it('keeps the newest N; a prune killed mid-delete leaves a partial folder that resume removes, never a stateless checkpoint-N', () => {
    const dir = join(work, 'rot');
    for (const s of [2, 4, 6, 8]) fakeCheckpoint(dir, s);
    expect(pruneCheckpoints(dir, 2).map((d) => d.slice(dir.length + 1))).toEqual(['checkpoint-2', 'checkpoint-4']);
    expect(readdirSync(dir).sort()).toEqual(['checkpoint-6', 'checkpoint-8']);
    // What a SIGKILL during the recursive delete of checkpoint-6 leaves behind now: the renamed folder, half emptied.
    const doomed = join(dir, 'checkpoint-6.tmp-4242-pruned');
    mkdirSync(doomed);
    writeFileSync(join(doomed, 'model.safetensors'), 'x');
    expect(listCheckpoints(dir).map((c) => c.step)).toEqual([6, 8]);
    expect(removePartialCheckpoints(dir)).toEqual(['checkpoint-6.tmp-4242-pruned']);
    expect(readdirSync(dir).sort()).toEqual(['checkpoint-6', 'checkpoint-8']);
  });
});

describe('optimizer state file', () => {
  it('moments held in a WebAssembly arena (views at offsets of one memory) are written and read back bit for bit', async () => {
    expect((await initWasmBackend({ threads: 1 })).ok).toBe(true);
    try {
      setBackend(['wasm']);
      const sizes = [5, 8200, 33];
      const params = sizes.map((n, i) => [`p${i}`, new Tensor(Float32Array.from({ length: n }, (_, j) => Math.sin(j + i)), [n], { requiresGrad: true })] as [string, Tensor]);
      params.forEach(([, p], i) => { p.grad = new Tensor(Float32Array.from({ length: p.size }, (_, j) => Math.cos(j * 3 + i)), p.shape); });
      const opt = new AdamW({ beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1 });
      opt.step(params, 1e-2);
      opt.step(params, 1e-2);
      const m1 = opt.state.get('p1')!.expAvg;
      expect(m1.byteOffset).toBeGreaterThan(0);
      expect(m1.buffer).toBe(opt.state.get('p2')!.expAvgSq.buffer);
      const file = join(work, 'optimizer.safetensors');
      const shapes = new Map(params.map(([n, p]) => [n, p.shape]));
      writeOptimizerState(file, opt, params.map(([n]) => n), shapes, 2);
      const back = new AdamW(opt.cfg);
      readOptimizerState(file, back, opt.stepCounts(), shapes);
      for (const [n] of params) {
        const a = opt.state.get(n)!, b = back.state.get(n)!;
        expect(Buffer.from(b.expAvg.buffer, b.expAvg.byteOffset, b.expAvg.byteLength).equals(Buffer.from(a.expAvg.buffer, a.expAvg.byteOffset, a.expAvg.byteLength)), n).toBe(true);
        expect(Buffer.from(b.expAvgSq.buffer, b.expAvgSq.byteOffset, b.expAvgSq.byteLength).equals(Buffer.from(a.expAvgSq.buffer, a.expAvgSq.byteOffset, a.expAvgSq.byteLength)), n).toBe(true);
        expect(b.step).toBe(2);
      }
    } finally {
      disposeWasmBackend();
      setBackend(['cpu']);
    }
  });
});
