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
