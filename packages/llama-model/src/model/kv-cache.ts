/**
 * KV cache allocated once for a maximum length (llama2.c's RunState): per layer a key and a value
 * buffer [maxLen, kvHeads·headDim]. Decoding writes the new token's k/v in place and attends over
 * a zero-copy view of the filled prefix, so generation allocates nothing per token for the cache.
 */
import { Tensor } from '@llama-moe/tensor-core';

export class KVCache {
  /** [layers][maxLen, kvHeads·headDim] */
  readonly keys: Float32Array[];
  /** [layers][maxLen, kvHeads·headDim] */
  readonly values: Float32Array[];
  /** Tokens already in the cache. */
  length = 0;

  constructor(readonly layers: number, readonly maxLen: number, readonly width: number) {
    this.keys = Array.from({ length: layers }, () => new Float32Array(maxLen * width));
    this.values = Array.from({ length: layers }, () => new Float32Array(maxLen * width));
  }

  /** Write k/v rows [T, width] for `layer` at positions [length, length+T) and return views of the filled prefix. */
  append(layer: number, k: Float32Array, v: Float32Array, T: number): { k: Tensor; v: Tensor } {
    const start = this.length;
    this.keys[layer]!.set(k, start * this.width);
    this.values[layer]!.set(v, start * this.width);
    const end = (start + T) * this.width;
    return {
      k: new Tensor(this.keys[layer]!.subarray(0, end), [start + T, this.width]),
      v: new Tensor(this.values[layer]!.subarray(0, end), [start + T, this.width]),
    };
  }

  reset(): void {
    this.length = 0;
  }
}
