/** Rows and columns of dense weight matrices gathered into experts (gate/up rows, down columns). */
import { runKernel, Tensor } from '@llama-moe/tensor-core';
import { takeColsCpu } from '@llama-moe/tensor-core/cpu';
import { type ExpertWeights } from '@llama-moe/router/modules';

type Elements = Float32Array | Uint16Array;

/** Rows `idx` of a row-major [R, C] matrix → [idx.length, C] (f32, or raw f16/bf16 bits). */
export function takeRows<A extends Elements>(src: A, C: number, idx: ArrayLike<number>, into?: A): A {
  const out = into ?? new (src.constructor as new (n: number) => A)(idx.length * C);
  for (let i = 0; i < idx.length; i++) out.set(src.subarray(idx[i]! * C, idx[i]! * C + C), i * C);
  return out;
}

/** Columns `idx` of a row-major [R, C] matrix → [R, idx.length] (f32, or raw f16/bf16 bits). */
export function takeCols<A extends Elements>(src: A, R: number, C: number, idx: ArrayLike<number>, into?: A): A {
  return takeColsMany(src, R, C, [idx], into ? [into] : undefined)[0]!;
}

/**
 * Columns `parts[j]` of a row-major [R, C] matrix → one [R, parts[j].length] matrix per part, in a
 * single pass over the source: each source row (C elements) is read once while it sits in L1 and
 * scattered to every part. Calling takeCols per part instead streams the whole matrix once per
 * part (a random column subset touches nearly every cache line of every row). Runs tensor-core's
 * registered `takeCols` kernel on the active backend chain (WebAssembly where the wasm backend is
 * initialised, ~4x the JavaScript loop; the cpu oracle otherwise; both bit-identical).
 */
export function takeColsMany<A extends Elements>(src: A, R: number, C: number, parts: readonly ArrayLike<number>[], into?: readonly A[]): A[] {
  const outs = parts.map((idx, j) => into?.[j] ?? new (src.constructor as new (n: number) => A)(R * idx.length));
  runKernel('takeCols', { src, rows: R, cols: C, parts, outs });
  return outs;
}

/** takeColsMany on tensor-core's cpu oracle kernel (plain JavaScript, whatever backend is active). */
export function takeColsManyJs<A extends Elements>(src: A, R: number, C: number, parts: readonly ArrayLike<number>[], into?: readonly A[]): A[] {
  const outs = parts.map((idx, j) => into?.[j] ?? new (src.constructor as new (n: number) => A)(R * idx.length));
  takeColsCpu({ src, rows: R, cols: C, parts, outs });
  return outs;
}

/** The experts of one dense FFN for a partition (rows of gate/up, columns of down). */
export function expertsFromDense(gate: Float32Array, up: Float32Array, down: Float32Array, D: number, F: number, parts: ArrayLike<number>[]): ExpertWeights[] {
  const downs = takeColsMany(down, D, F, parts);
  return parts.map((idx, j) => ({
    gate: new Tensor(takeRows(gate, D, idx), [idx.length, D]),
    up: new Tensor(takeRows(up, D, idx), [idx.length, D]),
    down: new Tensor(downs[j]!, [D, idx.length]),
  }));
}
