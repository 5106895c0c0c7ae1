/** Help text: the command list and each command's usage, description, options and examples. */
import { optionLabel } from './args.js';
import type { CommandSpec } from './command.js';
import { commandOptions } from './dispatch.js';
import { COMMANDS, GROUPS } from './registry.js';
import { cliVersion } from './version.js';

const WIDTH = 88;

/** Greedy word wrap to `width` columns with `indent` on every line. */
export function wrap(text: string, width = WIDTH, indent = ''): string {
  const out: string[] = [];
  for (const para of text.split('\n')) {
    let line = indent;
    for (const word of para.split(/\s+/).filter(Boolean)) {
      if (line.length > indent.length && line.length + 1 + word.length > width) {
        out.push(line);
        line = indent + word;
      } else line += (line.length > indent.length ? ' ' : '') + word;
    }
    out.push(line);
  }
  return out.join('\n');
}

function twoColumns(rows: [string, string][], indent = '  '): string {
  const w = Math.min(28, Math.max(...rows.map(([a]) => a.length)));
  return rows
    .map(([a, b]) => {
      const head = `${indent}${a.padEnd(w)}  `;
      if (a.length > w) return `${indent}${a}\n${wrap(b, WIDTH, ' '.repeat(indent.length + w + 2))}`;
      const body = wrap(b, WIDTH, ' '.repeat(head.length)).slice(head.length);
      return head + body;
    })
    .join('\n');
}

export function mainHelp(): string {
  const rows = COMMANDS.map((c): [string, string] => [c.name, c.summary]);
  return [
    `llama-moe ${cliVersion()}: build Mixture-of-Experts models from dense LLaMA checkpoints (LLaMA-MoE), train, evaluate and export them`,
    '',
    'Usage: llama-moe <command> [options]',
    '',
    'Commands:',
    twoColumns(rows),
    '',
    'Options:',
    twoColumns([
      ['-h, --help', 'Show help (also `llama-moe <command> --help`).'],
      ['--version', 'Print the version.'],
      ['--debug', 'Print stack traces of errors.'],
      ['-q, --quiet', 'No progress bars or statistics.'],
    ]),
    '',
    'Exit codes: 0 success, 1 runtime error (files, data, model), 2 usage error (options, config keys and values), 130 interrupted (Ctrl-C).',
    "Run 'llama-moe <command> --help' for a command's options and examples.",
    '',
  ].join('\n');
}

export function groupHelp(group: string): string {
  const subs = COMMANDS.filter((c) => c.name.startsWith(group + ' '));
  return [
    `llama-moe ${group}: ${GROUPS[group] ?? ''}`,
    '',
    `Usage: llama-moe ${group} <subcommand> [options]`,
    '',
    'Subcommands:',
    twoColumns(subs.map((c): [string, string] => [c.name.slice(group.length + 1), c.summary])),
    '',
    `Run 'llama-moe ${group} <subcommand> --help' for details.`,
    '',
  ].join('\n');
}

export function commandHelp(spec: CommandSpec): string {
  const opts = commandOptions(spec);
  const optionRows = opts.map((o): [string, string] => {
    const label = (o.short ? `-${o.short}, ` : '') + optionLabel(o) + (o.repeat ? ' ...' : '');
    let desc = o.description;
    if (o.required) desc += ' (required)';
    else if (o.default !== undefined && o.type !== 'boolean' && !/default/i.test(desc)) desc += ` (default ${o.default})`;
    return [label, desc];
  });
  const parts = [`llama-moe ${spec.name}: ${spec.summary}`, '', 'Usage:', ...spec.usage.map((u) => `  llama-moe ${u}`), '', wrap(spec.description), ''];
  if (spec.positionals?.length) parts.push('Arguments:', twoColumns(spec.positionals.map((p): [string, string] => [p.name, p.description])), '');
  parts.push('Options:', twoColumns(optionRows), '');
  for (const [title, text] of Object.entries(spec.notes ?? {})) parts.push(`${title}:`, text, '');
  parts.push('Examples:', ...spec.examples.map((e) => `  ${e}`), '');
  return parts.join('\n');
}
