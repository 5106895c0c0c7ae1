/**
 * Typed errors. The router has no runtime dependencies, so it carries its own error class instead
 * of tensor-core's; the shape is the same (`op: message`) so callers can log either uniformly.
 */
export type RouterErrorCode = 'shape' | 'argument' | 'index' | 'value';

export class RouterError extends Error {
  readonly code: RouterErrorCode;
  /** The function or option that rejected its input, e.g. `buildDispatch` or `noisyTopKGate.num_selects`. */
  readonly op: string;
  constructor(code: RouterErrorCode, op: string, message: string) {
    super(`${op}: ${message}`);
    this.name = 'RouterError';
    this.code = code;
    this.op = op;
  }
}

/** Plain typed float buffers accepted everywhere. Float64Array inputs keep every output in float64. */
export type FloatArray = Float32Array | Float64Array;

/** Allocates a zeroed buffer of the same precision as `like`. */
export function allocLike<A extends FloatArray>(like: A, n: number): A {
  return (like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n)) as A;
}

export function isFloatArray(x: unknown): x is FloatArray {
  return x instanceof Float32Array || x instanceof Float64Array;
}

/** Checks `buf` is a float typed array of exactly `len` elements. */
export function checkFloat(op: string, name: string, buf: unknown, len: number, shape: string): asserts buf is FloatArray {
  if (!isFloatArray(buf)) {
    throw new RouterError('argument', op, `${name} must be a Float32Array or Float64Array ${shape}, got ${describe(buf)}`);
  }
  if (buf.length !== len) {
    throw new RouterError('shape', op, `${name} must have ${len} elements ${shape}, got ${buf.length}`);
  }
}

/** Checks a positive integer dimension. */
export function checkDim(op: string, name: string, v: unknown, min = 1): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new RouterError('argument', op, `${name} must be an integer >= ${min}, got ${String(v)}`);
  }
}

/** Splits a flat `[T, E]` buffer into its token count, throwing when the length is not a multiple of E. */
export function rowsOf(op: string, name: string, buf: unknown, cols: number, colName = 'E'): number {
  if (!isFloatArray(buf)) {
    throw new RouterError('argument', op, `${name} must be a Float32Array or Float64Array [T, ${colName}], got ${describe(buf)}`);
  }
  checkDim(op, colName, cols);
  if (buf.length % cols !== 0) {
    throw new RouterError('shape', op, `${name} has ${buf.length} elements, not a multiple of ${colName}=${cols}; pass a row-major [T, ${colName}] buffer`);
  }
  return buf.length / cols;
}

export function describe(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'undefined';
  if (typeof x === 'object') return (x as object).constructor?.name ?? 'object';
  return typeof x;
}
