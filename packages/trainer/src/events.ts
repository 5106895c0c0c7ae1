/**
 * What a training run reports while it runs: the trainer emits these events (`TrainInputs.onEvent`)
 * and writes nothing to a terminal itself; a display (the CLI's, or `trainingProgress` for any
 * stream) renders them.
 */
import type { EvalRecord, TrainRecord } from './metrics.js';

export type TrainerEvent =
  /** A step finished (updated, or skipped by the NaN policy); `maxSteps` is the run's length. */
  | { type: 'step'; record: TrainRecord; maxSteps: number }
  /** An evaluation finished (step 0 when eval_at_start). */
  | { type: 'eval'; record: EvalRecord }
  /** A checkpoint is complete on disk. */
  | { type: 'checkpoint'; step: number; dir: string }
  /**
   * A step's loss or gradient norm was not finite: `skip` (nan_policy 'skip': no update, the run
   * goes on) or `stop` (the run throws NonFiniteError next).
   */
  | { type: 'nonFinite'; step: number; what: 'loss' | 'grad_norm'; value: number; action: 'skip' | 'stop'; consecutiveSkips: number }
  /** The run ended (normally, or by an error that follows). */
  | { type: 'end'; step: number };

export type TrainerListener = (event: TrainerEvent) => void;
