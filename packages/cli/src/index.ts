/**
 * llama-moe: the command line. `main(argv, io)` runs a command in-process and returns its exit
 * code; the bin (bin/llama-moe.mjs) calls it with the process's argv and streams.
 */
export { main } from './main.js';
export { cliVersion } from './version.js';
export { processIO, memoryIO, type CliIO } from './io.js';
export { CliError, UsageError, formatError, EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, type FormattedError } from './errors.js';
export { parseArgs, parseSize, suggest, editDistance, optionLabel, type OptionSpec, type OptionType, type ParsedArgs, type ParseSpec, type PositionalSpec } from './args.js';
export { Progress, type ProgressOptions } from './progress.js';
export { COMMANDS, findCommand } from './registry.js';
export { invoke } from './dispatch.js';
export { mainHelp, commandHelp } from './help.js';
export type { CommandArgs, CommandSpec } from './command.js';
export { checkOutputDir, checkOutputFile, requireInputDir, requireInputFile } from './paths.js';
export { initModelFolder, initTensorPlan, initTensorData, initConfig, tensorSeed, type InitOptions, type InitResult, type InitTensorPlan } from './commands/init.js';
export { inspectModel, type InspectReport } from './commands/inspect.js';
export { inspectDataset, type DataInspectReport } from './commands/data-inspect.js';
export { samplerTokenizer, collectSources } from './commands/data-prepare.js';
export { SPLIT_METHODS, type SplitMethod } from './commands/split.js';
export { calibrationFromPacked } from './calibration.js';
export { type MergeExpertsOptions } from './commands/merge-experts.js';
export { readTrainConfig, applyOverrides, type TrainFn } from './commands/train.js';
export { type EvaluateOptions } from './commands/eval.js';
export { type ExportOptions } from './commands/export.js';
