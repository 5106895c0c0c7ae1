/**
 * Typed errors. Every error thrown by tensor-core names the op and the shapes involved, so a
 * caller several packages away still gets a one-line, actionable message.
 */
export type TensorErrorCode = 'shape' | 'dtype' | 'index' | 'argument' | 'backend' | 'autograd';

export class TensorError extends Error {
  readonly code: TensorErrorCode;
  readonly op: string;
  constructor(code: TensorErrorCode, op: string, message: string) {
    super(`${op}: ${message}`);
    this.name = 'TensorError';
    this.code = code;
    this.op = op;
  }
}

export class ShapeError extends TensorError {
  constructor(op: string, message: string) {
    super('shape', op, message);
    this.name = 'ShapeError';
  }
}

export class DTypeError extends TensorError {
  constructor(op: string, message: string) {
    super('dtype', op, message);
    this.name = 'DTypeError';
  }
}

export class IndexError extends TensorError {
  constructor(op: string, message: string) {
    super('index', op, message);
    this.name = 'IndexError';
  }
}

/** `[2, 3]` → `"[2, 3]"`: shapes appear the same way in every message. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
