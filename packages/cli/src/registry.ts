/** Every command, in the order `llama-moe --help` lists them. */
import type { CommandSpec } from './command.js';
import { initCommand } from './commands/init.js';
import { inspectCommand } from './commands/inspect.js';
import { logitsCommand } from './commands/logits.js';
import { generateCommand } from './commands/generate.js';
import { dataPrepareCommand } from './commands/data-prepare.js';
import { dataInspectCommand } from './commands/data-inspect.js';
import { splitCommand } from './commands/split.js';
import { mergeExpertsCommand } from './commands/merge-experts.js';
import { trainCommand } from './commands/train.js';
import { evalCommand } from './commands/eval.js';
import { exportCommand } from './commands/export.js';
import { exportCheckCommand } from './commands/export-check.js';
import { demoCommand } from './commands/demo.js';

export const COMMANDS: readonly CommandSpec[] = [
  initCommand,
  inspectCommand,
  logitsCommand,
  generateCommand,
  dataPrepareCommand,
  dataInspectCommand,
  splitCommand,
  mergeExpertsCommand,
  trainCommand,
  evalCommand,
  exportCommand,
  exportCheckCommand,
  demoCommand,
];

/** Command groups with subcommands (`data prepare`). */
export const GROUPS: Record<string, string> = { data: 'Prepare and inspect training data' };

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}
