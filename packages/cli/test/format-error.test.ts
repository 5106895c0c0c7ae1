/** Every library error class maps to the one-line `llama-moe <command>: ... (...)` form. */
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { CheckpointError, ConfigError, NpyError, SafetensorsError, TokenizerError } from '@llama-moe/llama-model';
import { ShapeError, TensorError } from '@llama-moe/tensor-core';
import { RouterError } from '@llama-moe/router';
import { DataError, ReaderError, WeightError } from '@llama-moe/data-sampler';
import { CliError, UsageError, formatError } from '../src/errors.js';

const ONE_LINE = /^llama-moe cmd: [^\n]+ \([^\n]+\)$/;

describe('formatError', () => {
  test.each([
    ['ConfigError', new ConfigError('m/config.json', 'rope_scaling.rope_type', "'yarn' is not supported"), /m\/config\.json: 'rope_scaling\.rope_type': 'yarn' is not supported \(fix config\.json/],
    ['SafetensorsError', new SafetensorsError('m/model.safetensors', 'lm_head.weight', 'truncated'), /model\.safetensors: tensor 'lm_head\.weight': truncated \(/],
    ['CheckpointError', new CheckpointError('m', null, 'no model.safetensors here'), /m: no model\.safetensors here \(pass a Hugging Face model folder/],
    ['NpyError', new NpyError('x.npy', 'bad magic'), /x\.npy: bad magic \(/],
    ['TensorError', new TensorError('argument', 'matmul', 'inner dims differ'), /matmul: inner dims differ \(the inputs do not fit/],
    ['ShapeError', new ShapeError('add', '[2] vs [3]'), /add: \[2\] vs \[3\] \(/],
    ['RouterError', new RouterError('argument', 'noisyTopKGate.num_selects', 'must be <= E'), /noisyTopKGate\.num_selects: must be <= E \(check the MoE routing options/],
    ['DataError', new DataError('argument', 'seqLen: must be a positive integer'), /seqLen: must be a positive integer \(fix the data/],
    ['ReaderError', new ReaderError('read', 'a.jsonl', 3, undefined, 'a.jsonl: line 4: invalid JSON'), /a\.jsonl: line 4: invalid JSON \(fix or remove the record/],
    ['WeightError', new WeightError('weights', undefined, 'weights: sum to 2, not 1'), /weights: sum to 2, not 1 \(fix the domain weights/],
    ['TokenizerError', new TokenizerError('missing-file', 'm/tokenizer.json', 'file not found'), /m\/tokenizer\.json: file not found \(pass a Hugging Face tokenizer\.json/],
  ])('%s', (_name, err, re) => {
    const f = formatError('cmd', err);
    expect(f.exitCode).toBe(1);
    expect(f.line).toMatch(ONE_LINE);
    expect(f.line).toMatch(re);
  });

  test('fs errors say what failed and what to do', () => {
    const e = Object.assign(new Error("EACCES: permission denied, open '/x/y'"), { code: 'EACCES', path: '/x/y', syscall: 'open' });
    expect(formatError('cmd', e).line).toBe('llama-moe cmd: /x/y: permission denied (open) (choose a location you can write to, or fix its permissions)');
  });

  test('usage errors exit 2, CLI errors 1, bugs are labelled internal', () => {
    expect(formatError('cmd', new UsageError('bad', 'fix it'))).toEqual({ line: 'llama-moe cmd: bad (fix it)', exitCode: 2 });
    expect(formatError(null, new CliError('x', 'y'))).toEqual({ line: 'llama-moe: x (y)', exitCode: 1 });
    expect(formatError('cmd', new TypeError('x is undefined')).line).toMatch(/^llama-moe cmd: internal error: TypeError: x is undefined \(rerun with --debug/);
  });

  test('property: any message becomes exactly one line', () => {
    fc.assert(
      fc.property(fc.string(), fc.constantFrom('ConfigError', 'DataError', 'TensorError', 'SomeNewError', 'Error', 'RangeError'), (msg, name) => {
        const e = new Error(msg);
        e.name = name;
        const { line } = formatError('cmd', e);
        expect(line).not.toMatch(/[\r\n]/);
        expect(line.startsWith('llama-moe cmd: ')).toBe(true);
      }),
    );
  });
});
