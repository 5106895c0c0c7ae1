/**
 * Progress reporting on stderr. On a terminal: one bar redrawn in place (at most every 100 ms).
 * Otherwise (logs, CI, pipes): a plain line every `progressIntervalMs` (default 10 s), so logs stay
 * readable. `--quiet` silences both. The caller prints its own summary when the work is done.
 */
import type { CliIO } from './io.js';
import { formatBytes, formatDuration, withCommas } from './format.js';

export type ProgressUnit = 'bytes' | 'items';

export interface ProgressOptions {
  /** Work to do, in `unit`; unknown totals show the count and rate only. */
  total?: number;
  unit?: ProgressUnit;
  /** Noun for items (`tensors`, `documents`). */
  noun?: string;
  quiet?: boolean;
}

const TTY_REDRAW_MS = 100;
const DEFAULT_INTERVAL_MS = 10_000;

export class Progress {
  private readonly io: CliIO;
  private readonly label: string;
  private readonly opts: ProgressOptions;
  private readonly start = performance.now();
  private lastDraw: number;
  private value = 0;
  private drawn = false;
  private finished = false;
  total: number | undefined;

  constructor(io: CliIO, label: string, opts: ProgressOptions = {}) {
    this.io = io;
    this.label = label;
    this.opts = opts;
    this.total = opts.total;
    this.lastDraw = -Infinity;
    // Plain lines wait one interval: short jobs print only the command's own summary.
    if (!io.isTTY) this.lastDraw = this.start;
    if (!opts.quiet && io.isTTY) this.draw(performance.now());
  }

  /** Add `delta` units of finished work. */
  tick(delta = 1): void {
    this.update(this.value + delta);
  }

  /** Set the finished work to `value`. */
  update(value: number): void {
    this.value = value;
    if (this.opts.quiet || this.finished) return;
    const now = performance.now();
    const every = this.io.isTTY ? TTY_REDRAW_MS : (this.io.progressIntervalMs ?? DEFAULT_INTERVAL_MS);
    if (now - this.lastDraw >= every) this.draw(now);
  }

  /** Stop drawing; on a terminal the bar is completed and the line ended. */
  done(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.opts.quiet) return;
    if (this.io.isTTY) {
      if (this.total !== undefined) this.value = Math.max(this.value, this.total);
      this.draw(performance.now(), true);
      this.io.stderr('\n');
    }
  }

  /** Seconds since the progress started. */
  elapsedMs(): number {
    return performance.now() - this.start;
  }

  private amount(v: number): string {
    return this.opts.unit === 'bytes' ? formatBytes(v) : withCommas(v);
  }

  private text(now: number): string {
    const secs = Math.max((now - this.start) / 1000, 1e-9);
    const rate = this.value / secs;
    const rateText = this.opts.unit === 'bytes' ? `${formatBytes(rate)}/s` : `${withCommas(rate)} ${this.opts.noun ?? 'items'}/s`;
    const count = this.total !== undefined ? `${this.amount(this.value)}/${this.amount(this.total)}` : `${this.amount(this.value)}${this.opts.unit === 'bytes' ? '' : ` ${this.opts.noun ?? 'items'}`}`;
    let eta = '';
    if (this.total !== undefined && rate > 0 && this.value < this.total) eta = `, eta ${formatDuration(((this.total - this.value) / rate) * 1000)}`;
    return `${count}, ${rateText}${eta}`;
  }

  private draw(now: number, final = false): void {
    this.lastDraw = now;
    const frac = this.total ? Math.min(1, this.value / this.total) : null;
    const pct = frac === null ? '' : `${String(Math.floor(frac * 100)).padStart(3)}%`;
    if (this.io.isTTY) {
      const cols = this.io.columns && this.io.columns >= 40 ? this.io.columns : 80;
      const info = `${pct} ${this.text(now)}`;
      // Fixed bar width (it must not jump as the numbers beside it change length).
      const width = Math.max(10, Math.min(30, cols - this.label.length - 52));
      const bar = frac === null ? '' : ` [${'#'.repeat(Math.round(frac * width)).padEnd(width, '.')}]`;
      this.io.stderr(`\r\x1b[K${this.label}${bar} ${info}`.slice(0, cols + 8));
      this.drawn = true;
    } else if (!final && now - this.start > 0 && this.value > 0) {
      this.io.stderr(`${this.label}: ${pct ? pct.trim() + ' ' : ''}(${this.text(now)})\n`);
      this.drawn = true;
    }
  }

  /** Whether anything was printed. */
  get printed(): boolean {
    return this.drawn;
  }
}
