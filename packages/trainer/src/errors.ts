/**
 * Typed errors. Each message is one line naming the config key / step / checkpoint / file involved
 * and what to do about it, so a failure hours into a run is actionable from the log alone.
 */
export type TrainerErrorCode =
  | 'config' // a bad TrainConfig value
  | 'non-finite' // NaN / Inf loss or gradient norm
  | 'checkpoint' // a checkpoint that cannot be written, found or read
  | 'resume' // a resume whose inputs do not match the saved run
  | 'eval' // a bad evaluation task or input
  | 'interrupted' // stopped on request (TrainInputs.signal) between two steps
  | 'argument'; // a bad argument to a public function

export class TrainerError extends Error {
  readonly code: TrainerErrorCode;
  constructor(code: TrainerErrorCode, message: string) {
    super(message);
    this.name = 'TrainerError';
    this.code = code;
  }
}

/** A TrainConfig problem; `key` is the snake_case key (dotted for nested keys, e.g. `stages[1].trainable`). */
export class TrainConfigError extends TrainerError {
  readonly key: string;
  constructor(key: string, message: string) {
    super('config', `config.${key}: ${message}`);
    this.name = 'TrainConfigError';
    this.key = key;
  }
}

/** A non-finite loss or gradient norm at `step` (1-based optimizer step). */
export class NonFiniteError extends TrainerError {
  readonly step: number;
  readonly what: 'loss' | 'grad_norm';
  constructor(step: number, what: 'loss' | 'grad_norm', value: number, detail: string) {
    super('non-finite', `step ${step}: ${what} is ${value} (${detail})`);
    this.name = 'NonFiniteError';
    this.step = step;
    this.what = what;
  }
}

/** A checkpoint problem; `path` names the folder or file. */
export class CheckpointStateError extends TrainerError {
  readonly path: string;
  constructor(code: 'checkpoint' | 'resume', path: string, message: string) {
    super(code, `${path}: ${message}`);
    this.name = 'CheckpointStateError';
    this.path = path;
  }
}

/** The run stopped on request (TrainInputs.signal) between two steps; nothing is half-written. */
export class TrainingInterruptedError extends TrainerError {
  /** Steps completed when it stopped. */
  readonly step: number;
  /** The newest complete checkpoint (where a resume starts), or null. */
  readonly checkpoint: string | null;
  constructor(step: number, checkpoint: string | null) {
    super('interrupted', `interrupted after step ${step}; ${checkpoint ? `the last complete checkpoint is ${checkpoint}` : 'no checkpoint was written yet'}`);
    this.name = 'TrainingInterruptedError';
    this.step = step;
    this.checkpoint = checkpoint;
  }
}
