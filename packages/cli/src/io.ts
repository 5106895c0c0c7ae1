/**
 * Where a command writes. Commands never touch process.stdout / process.stderr directly, so tests
 * run them in-process and capture both streams, and the bin wires the real ones.
 */
export interface CliIO {
  /** Machine-readable results and generated text. */
  stdout: (text: string) => void;
  /** Progress, statistics and errors. */
  stderr: (text: string) => void;
  /** stderr is a terminal: progress is drawn as a bar (redrawn in place) instead of periodic lines. */
  isTTY: boolean;
  /** Terminal width for progress bars (default 80). */
  columns?: number;
  /** Milliseconds between plain progress lines when stderr is not a terminal (default 10 000). */
  progressIntervalMs?: number;
}

/** The process's own streams. */
export function processIO(): CliIO {
  return {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    isTTY: !!process.stderr.isTTY,
    columns: process.stderr.columns,
  };
}

/** Collects output in memory (tests, embedding the CLI in another program). */
export function memoryIO(opts: { isTTY?: boolean; progressIntervalMs?: number } = {}): CliIO & { out: string[]; err: string[]; stdoutText(): string; stderrText(): string } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
    isTTY: opts.isTTY ?? false,
    progressIntervalMs: opts.progressIntervalMs,
    stdoutText: () => out.join(''),
    stderrText: () => err.join(''),
  };
}
