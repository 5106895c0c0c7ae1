/** The command-line parser: forms, types, errors, and suggestions. */
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { editDistance, parseArgs, parseSize, suggest, type OptionSpec } from '../src/args.js';
import { UsageError } from '../src/errors.js';

const OPTS: OptionSpec[] = [
  { name: 'out', type: 'string', description: 'Output.', required: true },
  { name: 'layers', type: 'int', description: 'Layers.', min: 1 },
  { name: 'lr', type: 'number', description: 'Rate.', min: 0, minExclusive: true },
  { name: 'verbose', type: 'boolean', description: 'Talk.', short: 'v' },
  { name: 'input', type: 'string', description: 'Inputs.', repeat: true },
  { name: 'method', type: 'string', description: 'Method.', choices: ['random', 'clustering', 'graph'], default: 'random' },
  { name: 'shard', type: 'size', description: 'Shard.' },
];
const spec = { options: OPTS, positionals: [{ name: 'DIR', description: 'A folder.' }], command: 'test' };
const parse = (argv: string[]) => parseArgs(argv, spec);
const usage = (argv: string[]): string => {
  try {
    parse(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
};

describe('parseArgs', () => {
  test('both value forms, booleans, repeats, defaults, positionals and --', () => {
    const a = parseArgs(['--out', 'x', '--layers=3', '--lr', '1e-4', '-v', '--input', 'a', '--input=b', 'dir', '--', '--not-an-option'], {
      ...spec,
      positionals: [{ name: 'PATH', description: 'Paths.', variadic: true }],
    });
    expect(a.options).toMatchObject({ out: 'x', layers: 3, lr: 1e-4, verbose: true, input: ['a', 'b'], method: 'random' });
    expect(a.positionals).toEqual(['dir', '--not-an-option']);
    expect(a.given.has('method')).toBe(false);
    expect(parse(['--out', 'x', '--no-verbose']).options.verbose).toBe(false);
    expect(parse(['--out', 'x', '--verbose=false']).options.verbose).toBe(false);
    expect(parse(['--out=a=b']).options.out).toBe('a=b');
    expect(parse(['--out', 'x', '--shard', '2GB']).options.shard).toBe(2e9);
    expect(parse(['--out', 'x']).options.input).toEqual([]);
  });

  test('negative numbers are values, other dash tokens are options', () => {
    expect(usage(['--out', 'x', '--layers', '-3'])).toBe('--layers must be at least 1, got -3');
    expect(usage(['--out', '--layers', '3'])).toMatch(/option --out needs a value/);
    expect(usage(['--out', 'x', '-x'])).toBe("unknown option '-x'");
    expect(usage(['--out', '--'])).toMatch(/option --out needs a value/);
    expect(parse(['--out', 'x', '-5']).positionals).toEqual(['-5']);
    expect(parse(['--out', 'x', '--', '-v']).positionals).toEqual(['-v']);
  });

  test('a single dash takes one letter: no groups, no attached values', () => {
    expect(usage(['--out', 'x', '-vv'])).toBe("unknown option '-vv'");
    expect(usage(['--out', 'x', '-v=true'])).toBe("unknown option '-v=true'");
    expect(usage(['--out', 'x', '-v', '-v'])).toBe('--verbose is given more than once');
  });

  test('errors name the option', () => {
    expect(usage(['--outt', 'x'])).toBe("unknown option '--outt'");
    expect(usage([])).toBe('missing required option --out VALUE');
    expect(usage(['--out', 'x', '--layers', '2.5'])).toBe("--layers must be an integer, got '2.5'");
    expect(usage(['--out', 'x', '--lr', '0'])).toBe('--lr must be greater than 0, got 0');
    expect(usage(['--out', 'x', '--lr', 'fast'])).toBe("--lr must be a number, got 'fast'");
    expect(usage(['--out', 'x', '--method', 'graf'])).toMatch(/--method must be one of random, clustering, graph, got 'graf'/);
    expect(usage(['--out', 'x', '--out', 'y'])).toBe('--out is given more than once');
    expect(usage(['--out', 'x', '--verbose=maybe'])).toMatch(/--verbose is a flag/);
    expect(usage(['--out', 'x', 'a', 'b'])).toBe("unexpected argument 'b'");
    expect(usage(['--out', 'x', '--shard', 'huge'])).toMatch(/--shard must be a size/);
  });

  test('unknown options carry a did-you-mean hint', () => {
    try {
      parse(['--methd', 'x']);
    } catch (e) {
      expect((e as UsageError).hint).toMatch(/did you mean '--method'\?/);
    }
  });

  test('allowUnknownOptions collects --key value pairs', () => {
    const a = parseArgs(['--config', 'c.yaml', '--lr', '1e-4', '--max-steps=10', '--flag', '--x.y', '-2'], {
      options: [{ name: 'config', type: 'string', description: 'c' }],
      allowUnknownOptions: true,
      command: 'train',
    });
    expect(a.extra).toEqual({ lr: ['1e-4'], 'max-steps': ['10'], flag: ['true'], 'x.y': ['-2'] });
    const b = parseArgs(['--constructor', '1', '--toString=2'], { options: [], allowUnknownOptions: true, command: 'train' });
    expect({ ...b.extra }).toEqual({ constructor: ['1'], toString: ['2'] });
  });

  test('property: --name value and --name=value parse the same', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }).filter((s) => !s.startsWith('-')), fc.integer({ min: 1, max: 1e9 }), (out, layers) => {
        const a = parse(['--out', out, '--layers', String(layers)]);
        const b = parse([`--out=${out}`, `--layers=${layers}`]);
        expect(a.options).toEqual(b.options);
        expect(a.options.layers).toBe(layers);
      }),
    );
  });

  test('property: numbers round-trip through --lr', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-12, max: 1e12, noNaN: true }), (x) => {
        expect(parse(['--out', 'o', '--lr', String(x)]).options.lr).toBe(x);
      }),
    );
  });
});

describe('suggest and sizes', () => {
  test('edit distance is a metric on small strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), (a, b, c) => {
        expect(editDistance(a, a)).toBe(0);
        expect(editDistance(a, b)).toBe(editDistance(b, a));
        expect(editDistance(a, c)).toBeLessThanOrEqual(editDistance(a, b) + editDistance(b, c));
      }),
    );
  });

  test('suggest finds typos and prefixes, not unrelated words', () => {
    expect(suggest('ispect', ['init', 'inspect', 'logits'])).toBe('inspect');
    expect(suggest('max-step', ['max-steps', 'lr'])).toBe('max-steps');
    expect(suggest('gen', ['generate', 'init'])).toBe('generate');
    expect(suggest('zzzzzz', ['init', 'inspect'])).toBeNull();
  });

  test('parseSize understands decimal and binary units', () => {
    expect(parseSize('5GB')).toBe(5e9);
    expect(parseSize('500mb')).toBe(5e8);
    expect(parseSize('2GiB')).toBe(2 ** 31);
    expect(parseSize('1024')).toBe(1024);
    expect(parseSize('1.5KB')).toBe(1500);
    expect(parseSize('-1GB')).toBeNull();
    expect(parseSize('GB')).toBeNull();
  });
});
