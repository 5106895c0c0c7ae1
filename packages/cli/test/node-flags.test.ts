/**
 * The bin's re-run of training commands under COMPUTE_NODE_FLAGS (bin/node-flags.mjs): which
 * argv re-runs, and through the real bin: exit codes, signals and the child dying with its parent.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
// @ts-expect-error: a plain .mjs module of the bin, without type declarations
import { COMPUTE_COMMANDS, COMPUTE_NODE_FLAGS, NODE_FLAGS_ENV, RERUN_ENV, commandOf, nodeAcceptsFlags, rerunArgs } from '../bin/node-flags.mjs';

const BIN = fileURLToPath(new URL('../bin/llama-moe.mjs', import.meta.url));
const base = { execArgv: [] as string[], env: {} as Record<string, string>, script: '/x/llama-moe.mjs' };

describe('rerunArgs', () => {
  test('training commands re-run with the flags first, then node\'s own flags, the script and argv', () => {
    expect(COMPUTE_COMMANDS).toEqual(['train', 'demo']);
    expect(rerunArgs({ ...base, argv: ['train', '--config', 'c.yaml'] })).toEqual([...COMPUTE_NODE_FLAGS, '/x/llama-moe.mjs', 'train', '--config', 'c.yaml']);
    expect(rerunArgs({ ...base, execArgv: ['--max-old-space-size=8000'], argv: ['--debug', 'demo'] }))
      .toEqual([...COMPUTE_NODE_FLAGS, '--max-old-space-size=8000', '/x/llama-moe.mjs', '--debug', 'demo']);
  });

  test('other commands, flags already set, the opt-out and the child itself run in place', () => {
    for (const argv of [['inspect', 'dir'], ['split', '--method', 'random'], [], ['--help'], ['--', 'train']]) expect(rerunArgs({ ...base, argv })).toBeNull();
    expect(rerunArgs({ ...base, execArgv: [...COMPUTE_NODE_FLAGS], argv: ['train'] })).toBeNull();
    expect(rerunArgs({ ...base, env: { [NODE_FLAGS_ENV]: 'off' }, argv: ['train'] })).toBeNull();
    expect(rerunArgs({ ...base, env: { [RERUN_ENV]: '1' }, argv: ['train'] })).toBeNull();
  });

  test('this node accepts the flags; a flag node does not know is caught before the re-run', () => {
    expect(nodeAcceptsFlags(process.execPath, COMPUTE_NODE_FLAGS)).toBe(true);
    expect(nodeAcceptsFlags(process.execPath, ['--no-such-v8-flag-llama-moe'])).toBe(false);
  });

  test('commandOf skips global options', () => {
    expect(commandOf(['--debug', 'train', '--config', 'x'])).toBe('train');
    expect(commandOf(['-h'])).toBeNull();
  });
});

describe('the bin re-runs training commands', () => {
  test('exit codes and output pass through the child', () => {
    const ok = spawnSync(process.execPath, [BIN, 'train', '--help'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('llama-moe train');
    const bad = spawnSync(process.execPath, [BIN, 'demo', '--steps', 'many'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('llama-moe demo:');
  });

  test.runIf(process.platform === 'linux')('the child runs with the flags; killing the parent (SIGKILL) ends it, a signal to the parent reaches it', async () => {
    // `demo` into a fresh folder runs long enough to be caught in its synchronous training loop
    const run = (sig: NodeJS.Signals) => new Promise<{ childGone: boolean; goneFirst: boolean; parentSignal: string | null; childArgs: string }>((resolve, reject) => {
      const out = path.join(mkdtempSync(path.join(tmpdir(), 'llama-moe-node-flags-')), 'demo');
      const cleanUp = () => rmSync(path.dirname(out), { recursive: true, force: true });
      const parent = spawn(process.execPath, [BIN, 'demo', '--out', out, '--overwrite'], { stdio: 'ignore' });
      setTimeout(() => {
        const ps = spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(parent.pid)], { encoding: 'utf8' }).stdout.trim();
        const childPid = Number(ps.split(/\s+/)[0]);
        if (!childPid) { parent.kill('SIGKILL'); cleanUp(); reject(new Error(`no child of the bin: '${ps}'`)); return; }
        parent.kill(sig);
        // alive, not gone nor a zombie waiting for whoever adopted it to reap it
        const alive = () => {
          try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${childPid}/stat`, 'utf8')); } catch { return false; }
        };
        parent.on('exit', (_code, signal) => {
          const goneFirst = !alive();
          setTimeout(() => {
            const stillAlive = alive();
            if (stillAlive) process.kill(childPid, 'SIGKILL');
            cleanUp();
            resolve({ childGone: !stillAlive, goneFirst, parentSignal: signal, childArgs: ps });
          }, 1500);
        });
      }, 2500);
    });
    const killed = await run('SIGKILL');
    for (const f of COMPUTE_NODE_FLAGS) expect(killed.childArgs).toContain(f);
    expect(killed.childGone).toBe(true);
    // a catchable signal is passed on: the parent waits for the child, then dies of the same signal
    const term = await run('SIGTERM');
    expect(term.parentSignal).toBe('SIGTERM');
    expect(term.goneFirst).toBe(true);
  }, 30_000);
});
