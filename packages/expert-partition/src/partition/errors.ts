/**
 * Typed errors of the neuron-partition algorithms. They extend tensor-core's `TensorError` (code
 * `argument`) so a CLI can catch one class for every library error, and they carry the layer and
 * expert they are about when known, so a message several calls away still says where to look.
 */
import { TensorError } from '@llama-moe/tensor-core';

export class PartitionError extends TensorError {
  /** Decoder layer the failing partition belongs to, when the caller said. */
  readonly layer: number | undefined;
  /** Expert (index into `experts`, or `shared` when `sharedExpert` is set) the error is about. */
  readonly expert: number | undefined;
  constructor(op: string, message: string, where: { layer?: number; expert?: number } = {}) {
    super('argument', op, message);
    this.name = 'PartitionError';
    this.layer = where.layer;
    this.expert = where.expert;
  }
}

/** `" (layer 3)"` or `""`: appended to messages so every error names its layer when known. */
export function atLayer(layer: number | undefined): string {
  return layer === undefined ? '' : ` (layer ${layer})`;
}

export function checkPositiveInt(op: string, name: string, v: unknown, layer?: number): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new PartitionError(op, `${name} must be a positive integer, got ${String(v)}${atLayer(layer)}`, { layer });
  }
}

/** Float buffers accepted as inputs; both are read, neither is written. */
export type FloatArray = Float32Array | Float64Array;

export function checkFloatBuffer(op: string, name: string, buf: unknown, len: number, shape: string, layer?: number): asserts buf is FloatArray {
  if (!(buf instanceof Float32Array || buf instanceof Float64Array)) {
    throw new PartitionError(op, `${name} must be a Float32Array or Float64Array ${shape}${atLayer(layer)}`, { layer });
  }
  if (buf.length !== len) {
    throw new PartitionError(op, `${name} must have ${len} elements ${shape}, got ${buf.length}${atLayer(layer)}`, { layer });
  }
}
