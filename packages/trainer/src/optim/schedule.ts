/**
 * Learning-rate schedules with Hugging Face semantics: `lrAt(i)` is the LR of the optimizer update
 * whose 0-based index is `i` (the scheduler's `current_step`). Warm-up rises linearly from 0
 * (`peak · i / warmup`, so update 0 uses LR 0 exactly as transformers' schedulers), then decays to
 * `min_lr_ratio · peak` at `max_steps`: cosine `r + (1 − r)·½(1 + cos πp)`, linear `r + (1 − r)(1 − p)`,
 * or stays at the peak (constant), with p = (i − warmup) / (max_steps − warmup) clamped to [0, 1].
 */
export interface ScheduleConfig {
  lr: number;
  min_lr_ratio: number;
  warmup_steps: number;
  max_steps: number;
  lr_scheduler: 'cosine' | 'linear' | 'constant';
}

export function lrAt(i: number, c: ScheduleConfig): number {
  const W = c.warmup_steps;
  if (i < W) return (c.lr * i) / Math.max(1, W);
  if (c.lr_scheduler === 'constant') return c.lr;
  const p = Math.min(1, Math.max(0, (i - W) / Math.max(1, c.max_steps - W)));
  const r = c.min_lr_ratio;
  const f = c.lr_scheduler === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * p)) : 1 - p;
  return c.lr * (r + (1 - r) * f);
}
