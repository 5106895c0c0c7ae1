/**
 * Errors the command line reports, and the one-line form every failure is printed in:
 *
 *   llama-moe <command>: <what is wrong, naming the file / option / tensor> (<what to do>)
 *
 * Exit code 2 for usage errors (the command line itself is wrong), 1 for everything that goes
 * wrong while running (missing or broken files, library errors). Library errors are recognised by
 * their class name (`ConfigError`, `SafetensorsError`, `TensorError`, ...) rather than by
 * `instanceof`, so two copies of a workspace package in one process still map correctly.
 */

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

/** An error the CLI raises itself: its message is final, `hint` says what to do. */
export class CliError extends Error {
  readonly exitCode: number;
  readonly hint: string | null;
  constructor(message: string, hint: string | null = null, exitCode: number = EXIT_RUNTIME) {
    super(message);
    this.name = 'CliError';
    this.hint = hint;
    this.exitCode = exitCode;
  }
}

/** The command line is wrong (unknown option, bad value, missing option): exit code 2. */
export class UsageError extends CliError {
  constructor(message: string, hint: string | null = null) {
    super(message, hint, EXIT_USAGE);
    this.name = 'UsageError';
  }
}

/** What to do, per library error class (the library message already says what is wrong). */
const LIBRARY_HINTS: Record<string, string> = {
  ConfigError: 'fix config.json or pass a Hugging Face LLaMA / LLaMA-MoE / Mixtral model folder',
  SafetensorsError: 'the safetensors file is damaged or not a safetensors file; re-save or re-download the checkpoint',
  CheckpointError: 'pass a Hugging Face model folder holding config.json and model.safetensors (or an index and its shards)',
  GgufError: 'the GGUF file is damaged or not a GGUF file, or the model cannot be exported as asked; `llama-moe export-check` lists what can',
  CheckpointIoError: 'check the model folder',
  NpyError: 'check the .npy path and that its folder is writable',
  TensorError: 'the inputs do not fit the model; check token ids, lengths and shapes',
  ShapeError: 'the inputs do not fit the model; check shapes',
  DTypeError: 'the tensor has an unexpected dtype; check the checkpoint',
  IndexError: 'an index is out of range; check token ids against the vocabulary size',
  PartitionError: 'check --experts, --top-k, --method and the model\'s intermediate_size',
  RouterError: 'check the MoE routing options (experts, top-k, gate)',
  DataError: 'fix the data or the option it names',
  ReaderError: 'fix or remove the record it names, or set --text-column / --format',
  WeightError: 'fix the domain weights or the domain folders',
  TokenizerError: 'pass a Hugging Face tokenizer.json (or a model folder that has one)',
};

/** Node's fs error codes, in words, with what to do. */
const FS_CODES: Record<string, [string, string]> = {
  ENOENT: ['no such file or folder', 'check the path'],
  EACCES: ['permission denied', 'choose a location you can write to, or fix its permissions'],
  EPERM: ['operation not permitted', 'choose a location you can write to, or fix its permissions'],
  EROFS: ['read-only file system', 'choose a writable location'],
  ENOTDIR: ['a part of the path is a file, not a folder', 'choose another path'],
  EISDIR: ['is a folder, not a file', 'pass a file path'],
  EEXIST: ['already exists', 'choose a new path or remove the old one'],
  ENOTEMPTY: ['folder is not empty', 'choose a new folder or remove the old one'],
  ENOSPC: ['no space left on the device', 'free some space or choose another disk'],
  EMFILE: ['too many open files', 'raise the open-file limit (ulimit -n)'],
};

/** Built-in error classes that signal a bug rather than bad input. */
const INTERNAL = new Set(['TypeError', 'ReferenceError', 'SyntaxError', 'EvalError', 'URIError', 'AggregateError', 'InternalError']);

function oneLine(s: string): string {
  return s.replace(/\s*\r?\n\s*/g, ' ').trim();
}

export interface FormattedError {
  line: string;
  exitCode: number;
}

/** The one-line message (with `llama-moe <command>: ` prefix) and exit code for any thrown value. */
export function formatError(command: string | null, err: unknown): FormattedError {
  const prefix = command ? `llama-moe ${command}: ` : 'llama-moe: ';
  if (err instanceof CliError) {
    return { line: prefix + oneLine(err.message) + (err.hint ? ` (${oneLine(err.hint)})` : ''), exitCode: err.exitCode };
  }
  if (err instanceof Error) {
    const e = err as Error & { code?: unknown; path?: unknown; syscall?: unknown };
    const msg = oneLine(e.message || e.name);
    const hint = LIBRARY_HINTS[e.name];
    if (hint) return { line: `${prefix}${msg} (${hint})`, exitCode: EXIT_RUNTIME };
    if (typeof e.code === 'string' && FS_CODES[e.code]) {
      const [what, todo] = FS_CODES[e.code]!;
      const where = typeof e.path === 'string' ? `${e.path}: ` : '';
      const op = typeof e.syscall === 'string' ? ` (${e.syscall})` : '';
      return { line: `${prefix}${where}${what}${op} (${todo})`, exitCode: EXIT_RUNTIME };
    }
    if (e.name === 'RangeError') return { line: `${prefix}${msg} (check the options and the model's limits)`, exitCode: EXIT_RUNTIME };
    if (!INTERNAL.has(e.name) && e.name !== 'Error' && /Error$/.test(e.name)) {
      // A typed error of a workspace package this table does not know yet: its message names the problem.
      return { line: `${prefix}${msg} (see 'llama-moe ${command ?? ''} --help'; rerun with --debug for details)`.replace("'llama-moe  --help'", "'llama-moe --help'"), exitCode: EXIT_RUNTIME };
    }
    return { line: `${prefix}internal error: ${e.name}: ${msg} (rerun with --debug for the stack trace and report it)`, exitCode: EXIT_RUNTIME };
  }
  return { line: `${prefix}internal error: ${oneLine(String(err))} (rerun with --debug and report it)`, exitCode: EXIT_RUNTIME };
}
