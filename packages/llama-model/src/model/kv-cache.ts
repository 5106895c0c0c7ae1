/**
 * KV cache allocated once for a maximum length (llama2.c's RunState), stored head-major: per layer
 * a key and a value buffer [kvHeads, maxLen, headDim], so each kv head's keys are one contiguous
 * panel that attention's products read in place (tensor-core's `attentionOverCache`). Decoding
 * scatters the new token's k/v rows into the panels (kvHeads copies of headDim floats) and
 * allocates nothing per token for the cache.
 */
export class KVCache {
  /** [layers][kvHeads, maxLen, headDim] */
  readonly keys: Float32Array[];
  /** [layers][kvHeads, maxLen, headDim] */
  readonly values: Float32Array[];
  /** Tokens already in the cache. */
  length = 0;
  readonly kvHeads: number;

  /** `width` = kvHeads·headDim (a token's k or v row); `headDim` defaults to the whole width (one head). */
  constructor(readonly layers: number, readonly maxLen: number, readonly width: number, readonly headDim: number = width) {
    if (!(headDim > 0 && width % headDim === 0)) throw new RangeError(`KVCache: width ${width} is not a multiple of headDim ${headDim}`);
    this.kvHeads = width / headDim;
    this.keys = Array.from({ length: layers }, () => new Float32Array(maxLen * width));
    this.values = Array.from({ length: layers }, () => new Float32Array(maxLen * width));
  }

  /** Write k/v rows [T, kvHeads·headDim] for `layer` at positions [length, length+T); `length` is advanced by the caller after the last layer. */
  append(layer: number, k: Float32Array, v: Float32Array, T: number): void {
    const { kvHeads: H, headDim: d, maxLen, length: start } = this;
    if (start + T > maxLen) throw new RangeError(`KVCache: ${start + T} positions exceed its ${maxLen}`);
    const K = this.keys[layer]!, V = this.values[layer]!;
    // Plain loops, not subarray + set: a head row is 32–128 floats, and a prefill writes T·kvHeads
    // of them per layer, where creating two views per row cost more than the copy (~2 ms of a
    // 128-token stories15M prefill).
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        const src = (t * H + h) * d, dst = (h * maxLen + start + t) * d;
        for (let i = 0; i < d; i++) {
          K[dst + i] = k[src + i]!;
          V[dst + i] = v[src + i]!;
        }
      }
    }
  }

  reset(): void {
    this.length = 0;
  }
}
