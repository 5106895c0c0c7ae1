/**
 * The training progress display, a listener of the trainer's events: a bar on a TTY, a plain line
 * every `log_every` steps otherwise, and a line per evaluation.
 */
import type { TrainerListener } from './events.js';
import type { ProgressStream, TrainRecord } from './metrics.js';

/** Render a run's events on `stream`: `trainingProgress(process.stderr, cfg.log_every)`. */
export function trainingProgress(stream: ProgressStream, logEvery: number): TrainerListener {
  let lastLen = 0;
  let total = 0;
  const fmt = (r: TrainRecord) =>
    `step ${r.step}/${total} loss ${r.loss.toFixed(4)} lr ${r.lr.toExponential(2)} gnorm ${r.grad_norm.toFixed(3)} ${Math.round(r.tokens_per_sec)} tok/s${r.skipped ? ' (skipped)' : ''}`;
  const endLine = () => {
    if (stream.isTTY && lastLen) stream.write('\n');
    lastLen = 0;
  };
  const note = (msg: string) => {
    endLine();
    stream.write(`${msg}\n`);
  };
  return (e) => {
    switch (e.type) {
      case 'step': {
        const r = e.record;
        total = e.maxSteps;
        if (stream.isTTY) {
          const width = 24;
          const done = Math.round((width * r.step) / total);
          const line = `[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${fmt(r)}`;
          const shown = line.slice(0, Math.max(20, (stream.columns ?? 120) - 1));
          stream.write(`\r${shown}${' '.repeat(Math.max(0, lastLen - shown.length))}`);
          lastLen = shown.length;
          if (r.step === total) endLine();
        } else if (r.step % logEvery === 0 || r.step === total) {
          stream.write(`${fmt(r)}\n`);
        }
        break;
      }
      case 'eval': {
        const v = e.record;
        note(`eval @ step ${v.step}: val_loss ${v.val_loss.toFixed(4)} ppl ${v.val_ppl.toFixed(2)}${v.weights_updated ? ' (domain weights updated)' : ''}`);
        break;
      }
      case 'end':
        endLine();
        break;
      default:
        break;
    }
  };
}
