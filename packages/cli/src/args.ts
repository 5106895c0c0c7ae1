/**
 * A small, strict command-line parser on top of `node:util` parseArgs (which splits the tokens):
 * long options `--name value` / `--name=value`, booleans (`--flag`, `--flag=false`, `--no-flag`),
 * repeated options, `--` to end options, typed values (int, number, size, choices) checked where
 * they are parsed, and unknown options rejected with a "did you mean" suggestion. Every problem is
 * a UsageError (exit code 2) naming the option.
 */
import { parseArgs as nodeParseArgs } from 'node:util';
import { UsageError } from './errors.js';
import { suggest } from '@llama-moe/llama-model';

export { editDistance, suggest } from '@llama-moe/llama-model';

export type OptionType = 'string' | 'int' | 'number' | 'boolean' | 'size';
export type OptionValue = string | number | boolean | string[] | number[];

export interface OptionSpec {
  /** Long name without the dashes, e.g. `max-new-tokens`. */
  name: string;
  type: OptionType;
  description: string;
  /** Placeholder in help text, e.g. DIR, N (default from the type). */
  valueName?: string;
  /** One-letter alias (`-q` for `--quiet`). */
  short?: string;
  required?: boolean;
  /** May be given several times; the value is then an array. */
  repeat?: boolean;
  choices?: readonly string[];
  default?: string | number | boolean;
  /** Inclusive bounds for int / number / size. */
  min?: number;
  max?: number;
  /** Lower bound is exclusive (e.g. temperature-like values that must be > 0). */
  minExclusive?: boolean;
}

export interface PositionalSpec {
  name: string;
  description: string;
  required?: boolean;
  /** Takes every remaining positional. */
  variadic?: boolean;
}

export interface ParseSpec {
  options: readonly OptionSpec[];
  positionals?: readonly PositionalSpec[];
  /** Collect unknown `--key value` pairs into `extra` instead of failing (train's config overrides). */
  allowUnknownOptions?: boolean;
  /** For messages: `llama-moe <command>`. */
  command: string;
}

export interface ParsedArgs {
  /** Option values by long name (defaults filled in). */
  options: Record<string, OptionValue | undefined>;
  /** Names given explicitly on the command line. */
  given: Set<string>;
  positionals: string[];
  /** Unknown options kept when allowUnknownOptions: name → raw values in order. */
  extra: Record<string, string[]>;
}

const INT_RE = /^[+-]?\d+$/;
const NUM_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)?$/i;
const SIZE_UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30, TIB: 2 ** 40 };

/** `5GB`, `500MB`, `2GiB`, `1048576` → bytes (decimal units as huggingface_hub parses them). */
export function parseSize(text: string): number | null {
  const m = SIZE_RE.exec(text.trim());
  if (!m) return null;
  const v = Math.round(Number(m[1]) * SIZE_UNITS[(m[2] ?? 'B').toUpperCase()]!);
  return Number.isSafeInteger(v) ? v : null;
}

function placeholder(o: OptionSpec): string {
  if (o.valueName) return o.valueName;
  switch (o.type) {
    case 'int': return 'N';
    case 'number': return 'X';
    case 'size': return 'SIZE';
    default: return 'VALUE';
  }
}

/** `--name VALUE` as shown in help and messages. */
export function optionLabel(o: OptionSpec): string {
  return o.type === 'boolean' ? `--${o.name}` : `--${o.name} ${placeholder(o)}`;
}

function convert(o: OptionSpec, raw: string, cmd: string): string | number | boolean {
  const label = `--${o.name}`;
  const help = `see 'llama-moe ${cmd} --help'`;
  switch (o.type) {
    case 'boolean': {
      const v = raw.toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      throw new UsageError(`${label} is a flag and takes true or false, got '${raw}'`, `write ${label} or --no-${o.name}`);
    }
    case 'string': {
      if (o.choices && !o.choices.includes(raw)) {
        const s = suggest(raw, o.choices);
        throw new UsageError(`${label} must be one of ${o.choices.join(', ')}, got '${raw}'`, s ? `did you mean '${s}'?` : help);
      }
      return raw;
    }
    case 'int':
    case 'number':
    case 'size': {
      let v: number | null;
      if (o.type === 'int') v = INT_RE.test(raw.trim()) ? Number(raw.trim()) : null;
      else if (o.type === 'number') v = NUM_RE.test(raw.trim()) ? Number(raw.trim()) : null;
      else v = parseSize(raw);
      const kind = o.type === 'int' ? 'an integer' : o.type === 'number' ? 'a number' : 'a size such as 500MB or 5GB';
      if (v === null || !Number.isFinite(v) || (o.type === 'int' && !Number.isSafeInteger(v))) {
        throw new UsageError(`${label} must be ${kind}, got '${raw}'`, `e.g. ${label} ${o.type === 'size' ? '2GB' : o.min !== undefined && o.min > 0 ? o.min : o.type === 'int' ? 4 : 0.5}`);
      }
      checkRange(o, v);
      return v;
    }
  }
}

/** Bounds check shared by parsing and by defaults the command computes later. */
export function checkRange(o: Pick<OptionSpec, 'name' | 'min' | 'max' | 'minExclusive'>, v: number): void {
  const label = `--${o.name}`;
  if (o.min !== undefined && (o.minExclusive ? !(v > o.min) : !(v >= o.min))) {
    throw new UsageError(`${label} must be ${o.minExclusive ? 'greater than' : 'at least'} ${o.min}, got ${v}`, `pass ${label} ${o.minExclusive ? '>' : '>='} ${o.min}`);
  }
  if (o.max !== undefined && !(v <= o.max)) throw new UsageError(`${label} must be at most ${o.max}, got ${v}`, `pass ${label} <= ${o.max}`);
}

/** Parse `argv` (the tokens after the command name) against `spec`. */
export function parseArgs(argv: readonly string[], spec: ParseSpec): ParsedArgs {
  const byName = new Map(spec.options.map((o) => [o.name, o]));
  const byShort = new Map(spec.options.filter((o) => o.short).map((o) => [o.short!, o]));
  const options: Record<string, OptionValue | undefined> = {};
  const given = new Set<string>();
  const positionals: string[] = [];
  const extra: Record<string, string[]> = Object.create(null); // no prototype: `--constructor` is a key like any other
  const cmd = spec.command;
  const help = `see 'llama-moe ${cmd} --help'`;

  const set = (o: OptionSpec, raw: string) => {
    const v = convert(o, raw, cmd);
    if (o.repeat) {
      const arr = (options[o.name] as (string | number)[] | undefined) ?? [];
      options[o.name] = [...arr, v as string | number] as OptionValue;
    } else {
      if (given.has(o.name)) throw new UsageError(`--${o.name} is given more than once`, `give it once${o.type === 'boolean' ? '' : '; it takes a single value'}`);
      options[o.name] = v;
    }
    given.add(o.name);
  };

  /** A value token: anything but another option (negative numbers are values). */
  const isValue = (t: string | undefined): t is string => t !== undefined && (!t.startsWith('-') || t === '-' || NUM_RE.test(t));

  // node:util does the splitting (`--name=value`, `--name value` for value options, `--`, `-x`);
  // non-strict, so unknown options come back as tokens and the checks and messages stay ours.
  const { tokens } = nodeParseArgs({
    args: [...argv],
    options: Object.fromEntries(spec.options.map((o) => [o.name, { type: o.type === 'boolean' ? 'boolean' : 'string', ...(o.short ? { short: o.short } : {}) } as const])),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const done = new Set<number>(); // argv indices already read
  for (const t of tokens) {
    if (done.has(t.index)) continue;
    done.add(t.index);
    if (t.kind === 'positional') positionals.push(t.value);
    if (t.kind !== 'option') continue;
    const tok = argv[t.index]!;
    // Shim: node:util reads `-abc` as a group and `-5` as an option; here a single dash takes one
    // letter (anything else is an unknown option) and a negative number is a positional.
    const short = !tok.startsWith('--');
    if (short && NUM_RE.test(tok)) {
      positionals.push(tok);
      continue;
    }
    const o = short ? (tok.length === 2 ? byShort.get(tok[1]!) : undefined) : byName.get(t.name);
    if (o) {
      // node:util gives a value option the next token whatever it is; here it must not look like an option.
      if (o.type !== 'boolean' && !t.inlineValue && !isValue(t.value)) {
        throw new UsageError(`option ${short ? `-${o.short} (--${o.name})` : `--${o.name}`} needs a value (${placeholder(o)})`, `e.g. ${optionLabel(o)}`);
      }
      set(o, t.value ?? 'true');
    } else if (short) {
      const s = suggest(tok.slice(1), spec.options.map((x) => x.name));
      throw new UsageError(`unknown option '${tok}'`, s ? `did you mean '--${s}'? ${help}` : `long options take two dashes; ${help}`);
    } else if (t.name.startsWith('no-') && byName.get(t.name.slice(3))?.type === 'boolean' && t.value === undefined) {
      set(byName.get(t.name.slice(3))!, 'false'); // node 20's parseArgs has no allowNegative
    } else if (spec.allowUnknownOptions && /^[A-Za-z][\w.-]*$/.test(t.name)) {
      // Unknown options are flags to node:util; here `--key value` takes the next token as its value.
      let v = t.value ?? 'true';
      if (t.value === undefined && isValue(argv[t.index + 1])) {
        v = argv[t.index + 1]!;
        done.add(t.index + 1);
      }
      (extra[t.name] ??= []).push(v);
    } else {
      const s = suggest(t.name, spec.options.map((x) => x.name));
      throw new UsageError(`unknown option '--${t.name}'`, s ? `did you mean '--${s}'? ${help}` : help);
    }
  }

  for (const o of spec.options) {
    if (options[o.name] === undefined) {
      if (o.required) throw new UsageError(`missing required option ${optionLabel(o)}`, `add ${optionLabel(o)}; ${help}`);
      if (o.default !== undefined) options[o.name] = o.default;
      else if (o.repeat) options[o.name] = [];
    }
  }

  const pos = spec.positionals ?? [];
  const variadic = pos.some((p) => p.variadic);
  const needed = pos.filter((p) => p.required).length;
  if (positionals.length < needed) {
    const missing = pos.filter((p) => p.required)[positionals.length]!;
    throw new UsageError(`missing argument ${missing.name}`, `${missing.description.replace(/\.$/, '').toLowerCase()}; ${help}`);
  }
  if (!variadic && positionals.length > pos.length) {
    const stray = positionals[pos.length]!;
    throw new UsageError(`unexpected argument '${stray}'`, pos.length === 0 ? `this command takes only options; ${help}` : help);
  }
  return { options, given, positionals, extra };
}
