/**
 * pinTensors: move tensors' data into a WebAssembly weight arena (backends/wasm/weight-arena.ts),
 * so that the matrix–vector products of a decode step read them in place, on every core, with no
 * per-call dispatch: one call before generating. Values are unchanged (a copy); each moved
 * tensor's `data` becomes a view of the arena. Only the sizes that gain are moved (see PIN_MAX_FLOATS).
 *
 * For inference. A multi-token forward (prefill, training) still works on pinned tensors, but the
 * native backend copies each pinned operand before its call (onnxruntime-node refuses views of a
 * SharedArrayBuffer), which costs a few per cent of a prefill.
 *
 *   await useDefaultBackend();
 *   await pinTensors(model.parameters());   // or model.pinWeights() in @llama-moe/llama-model
 */
import type { Tensor } from './tensor.js';
import { IN_PLACE_MIN_FLOATS, WeightArena, weightArenaOf, type WeightArenaOptions } from './backends/wasm/weight-arena.js';

/**
 * Tensors larger than this (floats, 16 MiB) are left where they are: an LM head over a 32000-token
 * vocabulary reads about as fast on the native backend's two threads as in the arena (the "decode
 * products" table of docs/PERFORMANCE.md, from tools/bench/profile.mjs), and onnxruntime reads it
 * in place only outside the arena, so a prefill would copy it for nothing. Smaller than the arena's
 * in-place minimum they stay too: the copying kernel is faster for them.
 */
export const PIN_MAX_FLOATS = 4 << 20;

export interface PinOptions extends WeightArenaOptions {
  /** Largest tensor (floats) moved; default PIN_MAX_FLOATS. */
  maxFloats?: number;
  /**
   * Tensors read together by one grouped kernel (an MoE layer's experts, which `swigluExperts`
   * runs in one call): a group is pinned whole, whatever its members' sizes (up to maxFloats),
   * when any member is pinned by size, so that the kernel finds all of them in one arena. A group
   * of only small tensors stays where it is (a stories15M-shaped MoE's experts: pinned, its
   * prefill would copy each of them for onnxruntime, for no gain at decode that this VM could measure).
   */
  groups?: readonly (readonly Tensor[])[];
}

export interface PinResult {
  /** Tensors moved by this call (a tensor listed twice, or already pinned, counts once or not at all). */
  tensors: number;
  /** Bytes they hold. */
  bytes: number;
  /** Threads their products run on. */
  threads: number;
}

/**
 * Pin the float32 tensors of `tensors` whose size lies in [minFloats, maxFloats] (default 96 K to
 * 4 M floats; see PIN_MAX_FLOATS), and every member of a group one of them belongs to, into one arena; null
 * (nothing changed) where WebAssembly SIMD is missing or they exceed 4 GiB.
 */
export async function pinTensors(tensors: readonly Tensor[], opts: PinOptions = {}): Promise<PinResult | null> {
  const lo = opts.minFloats ?? IN_PLACE_MIN_FLOATS, hi = opts.maxFloats ?? PIN_MAX_FLOATS;
  const bySize = (t: Tensor) => t.size >= lo && t.size <= hi;
  const whole = new Set((opts.groups ?? []).filter((g) => g.some(bySize)).flat());
  const todo = [...new Set([...tensors, ...whole])].filter((t) => t.dtype === 'float32' && (bySize(t) || (whole.has(t) && t.size <= hi)) && !weightArenaOf(t.data as Float32Array));
  if (todo.length === 0) return { tensors: 0, bytes: 0, threads: 0 };
  const made = await WeightArena.create(todo.map((t) => t.data as Float32Array), opts);
  if (!made) return null;
  let bytes = 0;
  todo.forEach((t, i) => {
    t.data = made.views[i]!;
    bytes += 4 * t.data.length;
  });
  return { tensors: todo.length, bytes, threads: made.arena.threads };
}

/** True when the tensor's data lies in a weight arena. */
export function isPinned(t: Tensor): boolean {
  return t.dtype === 'float32' && weightArenaOf(t.data as Float32Array) !== undefined;
}
