/** What every command module provides, and what it receives when it runs. */
import type { OptionSpec, ParsedArgs, PositionalSpec } from './args.js';
import type { CliIO } from './io.js';

export interface CommandArgs extends ParsedArgs {
  /** Full command name, e.g. `data prepare` (used in error lines). */
  command: string;
  io: CliIO;
  /** --quiet: no progress, no statistics. */
  quiet: boolean;
  /** --debug: print stack traces. */
  debug: boolean;
}

export interface CommandSpec {
  /** `init`, or `data prepare` for a subcommand. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Paragraphs for `--help`. */
  description: string;
  /** Usage line(s) after `llama-moe `. */
  usage: string[];
  options: OptionSpec[];
  positionals?: PositionalSpec[];
  examples: string[];
  /** Unknown `--key value` pairs are collected in `extra` (train's config overrides). */
  allowUnknownOptions?: boolean;
  /** Extra help sections (title → text). */
  notes?: Record<string, string>;
  /** Returns the exit code (0 when nothing is returned). Throws CliError / library errors on failure. */
  run(args: CommandArgs): Promise<number | void>;
}

/** Options every command accepts. */
export const COMMON_OPTIONS: OptionSpec[] = [
  { name: 'help', short: 'h', type: 'boolean', description: 'Show this help and exit.' },
  { name: 'quiet', short: 'q', type: 'boolean', description: 'No progress bars or statistics on stderr.' },
  { name: 'debug', type: 'boolean', description: 'Print the stack trace of an error.' },
];

export const JSON_OPTION: OptionSpec = { name: 'json', type: 'boolean', description: 'Print machine-readable JSON on stdout.' };
