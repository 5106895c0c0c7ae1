/**
 * The elementwise SIMD modules (AdamW, row exponentials, RMSNorm backward, SwiGLU, scatter-add,
 * column gather) each own a small non-shared memory they copy operands through: instantiated
 * here, synchronously (each module is well under the 4 KB a browser main thread may compile
 * synchronously), fixed-size or growable up to MAX_PAGES.
 */
import { emitModule, type FuncDef } from './wasm-emitter.js';

export const PAGE = 65536;
/** 1 GiB: the growable modules' ceiling. */
export const MAX_PAGES = 16384;
/** Floats a growable module can hold. */
export const MAX_FLOATS = (MAX_PAGES * PAGE) / 4;

/** Compile `funcs` with their own memory of `bytes` (fixed) or growable from one page (undefined). */
export function instantiate(funcs: FuncDef[], bytes?: number): { memory: WebAssembly.Memory; exports: Record<string, unknown> } {
  const initial = bytes === undefined ? 1 : Math.ceil(bytes / PAGE);
  const maximum = bytes === undefined ? MAX_PAGES : initial;
  const code = emitModule({ memory: { initialPages: initial, maximumPages: maximum, shared: false }, funcs });
  const memory = new WebAssembly.Memory({ initial, maximum });
  const inst = new WebAssembly.Instance(new WebAssembly.Module(code), { env: { memory } });
  return { memory, exports: inst.exports as Record<string, unknown> };
}

/** Grow `memory` to at least `bytes`; returns its buffer (a new one after growing: views must be remade). */
export function reserve(memory: WebAssembly.Memory, bytes: number): ArrayBuffer {
  const have = memory.buffer.byteLength;
  if (bytes > have) memory.grow(Math.ceil((bytes - have) / PAGE));
  return memory.buffer;
}
