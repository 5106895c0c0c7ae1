/**
 * Entry point: `main(argv, io)` parses the command line, runs the command and turns any error into
 * the one-line `llama-moe <command>: <problem> (<what to do>)` form on stderr (plus the stack with
 * --debug). It returns the exit code and never throws, so tests run it in-process.
 */
import { useDefaultBackend } from '@llama-moe/tensor-core';
import { suggest } from './args.js';
import { formatError, UsageError, EXIT_OK } from './errors.js';
import { commandHelp, groupHelp, mainHelp } from './help.js';
import { invoke } from './dispatch.js';
import { processIO, type CliIO } from './io.js';
import { COMMANDS, GROUPS, findCommand } from './registry.js';
import type { CommandSpec } from './command.js';
import { cliVersion } from './version.js';

const GLOBAL_FLAGS = new Set(['--debug', '--quiet', '-q']);

/** Tokens before `--`. */
function optionPart(argv: readonly string[]): readonly string[] {
  const i = argv.indexOf('--');
  return i < 0 ? argv : argv.slice(0, i);
}

function topLevelNames(): string[] {
  return [...new Set(COMMANDS.map((c) => c.name.split(' ')[0]!)), 'help'];
}

/** Find the command named by the leading tokens; returns it and the remaining argv. */
function resolve(argv: readonly string[]): { spec: CommandSpec; rest: string[] } | { help: string } {
  const [first, ...rest] = argv;
  if (first! in GROUPS) {
    const sub = rest[0];
    if (sub === undefined || sub === '--help' || sub === '-h') {
      if (sub === undefined) throw Object.assign(new UsageError(`missing subcommand`, `one of ${COMMANDS.filter((c) => c.name.startsWith(first + ' ')).map((c) => c.name.slice(first!.length + 1)).join(', ')}; see 'llama-moe ${first} --help'`), { command: first });
      return { help: groupHelp(first!) };
    }
    const spec = findCommand(`${first} ${sub}`);
    if (!spec) {
      const subs = COMMANDS.filter((c) => c.name.startsWith(first + ' ')).map((c) => c.name.slice(first!.length + 1));
      const s = suggest(sub, subs);
      throw Object.assign(new UsageError(`unknown subcommand '${sub}'`, s ? `did you mean '${first} ${s}'? see 'llama-moe ${first} --help'` : `one of ${subs.join(', ')}`), { command: first });
    }
    return { spec, rest: rest.slice(1) };
  }
  const spec = findCommand(first!);
  if (!spec) {
    // `llama-moe prepare` → did you mean `data prepare`?
    const names = [...topLevelNames(), ...COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name)];
    const direct = COMMANDS.find((c) => c.name.endsWith(` ${first}`));
    const s = direct ? direct.name : suggest(first!, names);
    const msg = first!.startsWith('-') ? `unknown option '${first}' before the command` : `unknown command '${first}'`;
    throw new UsageError(msg, `${s ? `did you mean '${s}'? ` : ''}run 'llama-moe --help' for the list of commands`);
  }
  return { spec, rest };
}

export async function main(argv: readonly string[] = process.argv.slice(2), io: CliIO = processIO()): Promise<number> {
  let args = [...argv];
  // Global flags may come before the command: `llama-moe --debug inspect DIR`.
  const leading: string[] = [];
  while (args.length > 0 && GLOBAL_FLAGS.has(args[0]!)) leading.push(args.shift()!);
  const debug = leading.includes('--debug') || optionPart(args).includes('--debug');
  let commandName: string | null = null;
  try {
    if (args.length === 0 || args[0] === '--help' || args[0] === '-h') {
      io.stdout(mainHelp());
      return EXIT_OK;
    }
    if (args[0] === '--version' || args[0] === '-V' || args[0] === 'version') {
      io.stdout(`${cliVersion()}\n`);
      return EXIT_OK;
    }
    if (args[0] === 'help') {
      if (args.length === 1) {
        io.stdout(mainHelp());
        return EXIT_OK;
      }
      args = [...args.slice(1), '--help'];
    }
    if (args[0]! in GROUPS) commandName = args[0]!;
    const r = resolve(args);
    if ('help' in r) {
      io.stdout(r.help);
      return EXIT_OK;
    }
    commandName = r.spec.name;
    const rest = [...r.rest, ...leading];
    const opts = optionPart(rest);
    if (opts.includes('--help') || opts.includes('-h')) {
      io.stdout(commandHelp(r.spec));
      return EXIT_OK;
    }
    // Fastest GEMM available here (native, then WebAssembly SIMD, then plain TS); LLAMA_MOE_BACKEND overrides.
    await useDefaultBackend().catch(() => undefined);
    return await invoke(r.spec, rest, io);
  } catch (e) {
    const cmd = (e as { command?: string }).command ?? commandName;
    const { line, exitCode } = formatError(cmd, e);
    io.stderr(line + '\n');
    if (debug && e instanceof Error && e.stack) io.stderr(e.stack + '\n');
    return exitCode;
  }
}
