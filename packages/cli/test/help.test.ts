/** --help for every command, --version, the command list, and train's config overrides. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { COMMANDS } from '../src/registry.js';
import { cliVersion } from '../src/version.js';
import { applyOverrides, parseOverrideValue } from '../src/commands/train.js';
import { Progress } from '../src/progress.js';
import { memoryIO } from '../src/io.js';
import { cli, tempDir } from './helpers.js';

describe('help', () => {
  test('llama-moe --help lists every command', async () => {
    for (const argv of [[], ['--help'], ['-h'], ['help']]) {
      const r = await cli(argv);
      expect(r.code).toBe(0);
      for (const c of COMMANDS) expect(r.stdout).toContain(c.name);
    }
  });

  test('--version prints the package version', async () => {
    const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    const r = await cli(['--version']);
    expect(r).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
    expect(cliVersion()).toBe(pkg.version);
  });

  test.each(COMMANDS.map((c) => [c.name, c]))('%s --help has a description, options and an example', async (name, spec) => {
    const r = await cli([...name.split(' '), '--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`llama-moe ${name}: ${spec.summary}`);
    expect(r.stdout).toContain('Usage:');
    expect(r.stdout).toContain('Options:');
    expect(r.stdout).toContain('--help');
    expect(r.stdout).toMatch(/Examples:\n {2}llama-moe /);
    for (const o of spec.options) expect(r.stdout).toContain(`--${o.name}`);
    expect(spec.examples.length).toBeGreaterThan(0);
    for (const e of spec.examples) expect(e.startsWith(`llama-moe ${name}`)).toBe(true);
    // help wins over otherwise-invalid arguments
    expect((await cli([...name.split(' '), '--bogus', '--help'])).code).toBe(0);
    expect((await cli(['help', ...name.split(' ')])).stdout).toBe(r.stdout);
  });

  test('split help describes every method and format', async () => {
    const r = await cli(['split', '--help']);
    for (const w of ['random', 'clustering', 'graph', 'gradient', 'sharing-inner', 'sharing-inter', 'upcycle', 'carve', 'drop-upcycle', '--drop-ratio', '--recalibrate', 'kmeans', 'representative', 'ridge', 'mixtral', 'centroids', '--score-scale', '--data']) expect(r.stdout).toContain(w);
  });

  test('data --help lists the subcommands', async () => {
    const r = await cli(['data', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/prepare\s+Tokenise/);
    expect(r.stdout).toMatch(/inspect\s+Show a packed dataset/);
  });
});

describe('train config', () => {
  test('overrides become typed values at snake_case (and nested) keys', async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'train.yaml');
      fs.writeFileSync(file, 'model: models/tiny-moe\nlr: 0.001\nmax_steps: 10\ndynamic:\n  rule: sheared_llama\n');
      const r = await cli(['train', '--config', file, '--lr', '1e-4', '--max-steps', '100', '--dynamic.rule', 'llama_moe', '--output-dir', 'runs/a', '--print-config']);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ model: 'models/tiny-moe', lr: 1e-4, max_steps: 100, dynamic: { rule: 'llama_moe' }, output_dir: 'runs/a' });
      const j = path.join(dir, 'train.json');
      fs.writeFileSync(j, JSON.stringify({ batch_size: 4 }));
      expect(JSON.parse((await cli(['train', '--config', j, '--print-config'])).stdout)).toEqual({ batch_size: 4 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('override values parse as YAML scalars', () => {
    expect(parseOverrideValue('1e-4')).toBe(1e-4);
    expect(parseOverrideValue('true')).toBe(true);
    expect(parseOverrideValue('[1, 2]')).toEqual([1, 2]);
    expect(parseOverrideValue('runs/a')).toBe('runs/a');
    expect(parseOverrideValue('')).toBe('');
    expect(applyOverrides({ a: { b: 1 } }, { 'a.c': ['2'] })).toEqual({ a: { b: 1, c: 2 } });
    expect(() => applyOverrides({ a: 1 }, { 'a.c': ['2'] })).toThrow(/'a' is not a mapping/);
    // A new key close to nothing known passes through; a near-miss of a known key is refused.
    expect(applyOverrides({}, { 'lr-decay': ['0.5'] })).toEqual({ lr_decay: 0.5 });
    expect(() => applyOverrides({}, { 'batch-sise': ['8'] })).toThrow(/unknown option '--batch-sise'/);
  });
});

describe('progress', () => {
  test('a terminal gets a bar redrawn in place and ended by done()', () => {
    const io = memoryIO({ isTTY: true });
    const p = new Progress(io, 'work', { total: 100, unit: 'items', noun: 'things' });
    p.update(50);
    p.done();
    const text = io.stderrText();
    expect(text).toMatch(/\r\x1b\[Kwork \[#+\.*\] +\d+%/);
    expect(text).toContain('100%');
    expect(text.endsWith('\n')).toBe(true);
  });

  test('a pipe gets plain periodic lines; --quiet prints nothing', () => {
    const io = memoryIO({ progressIntervalMs: 0 });
    const p = new Progress(io, 'work', { total: 10 });
    p.update(5);
    p.done();
    expect(io.stderrText()).toMatch(/^work: 50% \(5\/10/);
    expect(io.stderrText()).not.toContain('\r');
    const q = memoryIO({ isTTY: true, progressIntervalMs: 0 });
    const pq = new Progress(q, 'work', { total: 10, quiet: true });
    pq.update(5);
    pq.done();
    expect(q.stderrText()).toBe('');
  });
});
