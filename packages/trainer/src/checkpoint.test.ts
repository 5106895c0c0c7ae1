import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listCheckpoints, pruneCheckpoints, removePartialCheckpoints } from './checkpoint.js';

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
