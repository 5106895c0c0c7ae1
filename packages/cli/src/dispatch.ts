/** Parse a command's arguments against its spec and run it (no error formatting: see main). */
import { parseArgs } from './args.js';
import { COMMON_OPTIONS, type CommandSpec } from './command.js';
import type { CliIO } from './io.js';

export function commandOptions(spec: CommandSpec) {
  return [...spec.options, ...COMMON_OPTIONS.filter((c) => !spec.options.some((o) => o.name === c.name))];
}

/** Run `spec` with `argv` (the tokens after the command name); throws on any error. */
export async function invoke(spec: CommandSpec, argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(argv, { options: commandOptions(spec), positionals: spec.positionals, allowUnknownOptions: spec.allowUnknownOptions, command: spec.name });
  const code = await spec.run({ ...parsed, command: spec.name, io, quiet: parsed.options.quiet === true, debug: parsed.options.debug === true });
  return code ?? 0;
}
