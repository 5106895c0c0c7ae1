/**
 * Metric records (one JSON line each in `metrics.jsonl`) and the terminal progress display.
 */
import { appendFileSync } from 'node:fs';

export interface TrainRecord {
  kind: 'train';
  /** 1-based optimizer step just completed. */
  step: number;
  /** ce_loss + balance_loss, averaged over micro-batches. */
  loss: number;
  ce_loss: number;
  /** Σ of the MoE layers' weighted balance losses (0 for a dense model). */
  balance_loss: number;
  lr: number;
  /** Global gradient norm before clipping. */
  grad_norm: number;
  /** Input tokens in this step (batch_size · seq_len · grad_accum). */
  tokens: number;
  /** Tokens seen since step 0. */
  tokens_seen: number;
  tokens_per_sec: number;
  gflops_per_sec: number;
  elapsed_s: number;
  /** Index of the freezing stage (-1 without stages). */
  stage: number;
  /** True when nan_policy 'skip' dropped this update. */
  skipped: boolean;
  domain_weights: Record<string, number>;
  /** Rows drawn from each domain in this step. */
  domain_counts: Record<string, number>;
  /** [L][E] tokens routed per expert (stats steps only). */
  expert_load?: number[][];
  /** [L][E] Σ gate scores per expert (stats steps only). */
  expert_importance?: number[][];
  /** Per layer: tokens no expert processed on this step (capacity-limited gates such as the switch gate; 0 otherwise). */
  dropped_tokens?: number[];
}

export interface McSummary {
  n: number;
  acc: number;
  acc_stderr: number;
  acc_norm: number;
  acc_norm_stderr: number;
}

export interface EvalRecord {
  kind: 'eval';
  step: number;
  /** Token-weighted mean NLL over every validation domain. */
  val_loss: number;
  val_ppl: number;
  val_loss_per_domain: Record<string, number>;
  val_ppl_per_domain: Record<string, number>;
  /** Sampling weights after this evaluation (after a dynamic update when one was due). */
  domain_weights: Record<string, number>;
  /** Whether the dynamic weights were updated at this evaluation. */
  weights_updated: boolean;
  tasks?: Record<string, McSummary>;
}

export type MetricRecord = TrainRecord | EvalRecord;

/** JSON-safe (NaN / Infinity become null, as JSON cannot hold them). */
export function metricLine(r: MetricRecord): string {
  return JSON.stringify(r) + '\n';
}

export function appendMetric(path: string, r: MetricRecord): void {
  appendFileSync(path, metricLine(r));
}

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** A bar on a TTY, a plain line every `every` steps otherwise, nothing when quiet. */
export class Progress {
  private lastLen = 0;
  constructor(
    private readonly stream: ProgressStream | null,
    private readonly total: number,
    private readonly every: number,
  ) {}

  private fmt(r: TrainRecord): string {
    const lr = r.lr.toExponential(2);
    return `step ${r.step}/${this.total} loss ${r.loss.toFixed(4)} lr ${lr} gnorm ${r.grad_norm.toFixed(3)} ${Math.round(r.tokens_per_sec)} tok/s${r.skipped ? ' (skipped)' : ''}`;
  }

  update(r: TrainRecord): void {
    if (!this.stream) return;
    if (this.stream.isTTY) {
      const width = 24;
      const done = Math.round((width * r.step) / this.total);
      const line = `[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${this.fmt(r)}`;
      const cols = this.stream.columns ?? 120;
      const shown = line.slice(0, Math.max(20, cols - 1));
      this.stream.write(`\r${shown}${' '.repeat(Math.max(0, this.lastLen - shown.length))}`);
      this.lastLen = shown.length;
      if (r.step === this.total) this.done();
    } else if (r.step % this.every === 0 || r.step === this.total) {
      this.stream.write(`${this.fmt(r)}\n`);
    }
  }

  /** A message on its own line (evaluations, checkpoints). */
  note(msg: string): void {
    if (!this.stream) return;
    if (this.stream.isTTY && this.lastLen) this.stream.write('\n');
    this.lastLen = 0;
    this.stream.write(`${msg}\n`);
  }

  done(): void {
    if (this.stream?.isTTY && this.lastLen) this.stream.write('\n');
    this.lastLen = 0;
  }
}
