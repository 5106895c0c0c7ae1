/**
 * Typed errors for checkpoint I/O. Every message is one line that starts with the file, names the
 * tensor / key when there is one, and says what is wrong, so a failure several packages away is
 * still actionable (e.g. `model.safetensors: tensor 'lm_head.weight': ...`).
 */

/** Base class: every I/O error carries the file it is about. */
export class CheckpointIoError extends Error {
  readonly file: string;
  constructor(file: string, message: string) {
    // One line, always: details may quote bytes of a corrupt file (newlines, control characters).
    super(message.replace(/[\u0000-\u001f\u007f]+/g, (m) => JSON.stringify(m).slice(1, -1)));
    this.name = 'CheckpointIoError';
    this.file = file;
  }
}

/** A safetensors file is corrupt, lying, truncated, or was asked for something it does not hold. */
export class SafetensorsError extends CheckpointIoError {
  /** The tensor the error is about, or null for file-level problems (header, metadata, coverage). */
  readonly tensor: string | null;
  constructor(file: string, tensor: string | null, detail: string) {
    super(file, `${file}: ${tensor !== null ? `tensor '${tensor}': ` : ''}${detail}`);
    this.name = 'SafetensorsError';
    this.tensor = tensor;
  }
}

/** A checkpoint folder / index is wrong (missing shards, escapes, pickled weights, shape mismatches). */
export class CheckpointError extends CheckpointIoError {
  readonly tensor: string | null;
  constructor(file: string, tensor: string | null, detail: string) {
    super(file, `${file}: ${tensor !== null ? `tensor '${tensor}': ` : ''}${detail}`);
    this.name = 'CheckpointError';
    this.tensor = tensor;
  }
}

/** config.json is invalid or asks for math this implementation does not do. */
export class ConfigError extends CheckpointIoError {
  /** HF config key, verbatim (e.g. `rope_scaling.rope_type`), or null. */
  readonly key: string | null;
  constructor(file: string, key: string | null, detail: string) {
    super(file, `${file}: ${key !== null ? `'${key}': ` : ''}${detail}`);
    this.name = 'ConfigError';
    this.key = key;
  }
}

/** A GGUF file is corrupt, lying, truncated, or cannot be written as asked. */
export class GgufError extends CheckpointIoError {
  /** The tensor (or metadata key, as `key 'name'`) the error is about, or null for file-level problems. */
  readonly tensor: string | null;
  constructor(file: string, tensor: string | null, detail: string) {
    super(file, `${file}: ${tensor !== null ? `tensor '${tensor}': ` : ''}${detail}`);
    this.name = 'GgufError';
    this.tensor = tensor;
  }
}

/** A .npy file cannot be read or written. */
export class NpyError extends CheckpointIoError {
  constructor(file: string, detail: string) {
    super(file, `${file}: ${detail}`);
    this.name = 'NpyError';
  }
}
