/**
 * Seed derivation. Every layer (and every sub-step that needs randomness) gets its own stream
 * derived from (seed, layer, salt), so partitioning layer 7 alone gives the same result as
 * partitioning all layers in one run, and two steps of one layer never share random numbers.
 */
import { createRng, type Rng } from '@llama-moe/tensor-core';

/** 32-bit avalanche of (seed, layer, salt); `createRng` spreads it further with splitmix32. */
export function mixSeed(seed: number, layer = 0, salt = 0): number {
  let h = Math.imul((Math.floor(seed) ^ Math.floor(seed / 2 ** 32)) >>> 0, 0x9e3779b1) >>> 0;
  h = (h ^ Math.imul(layer >>> 0, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  h = (h ^ Math.imul(salt >>> 0, 0x27d4eb2f)) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0x297a2d39) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export function layerRng(seed: number, layer = 0, salt = 0): Rng {
  return createRng(mixSeed(seed, layer, salt));
}

/** In-place Fisher–Yates shuffle (uniform over permutations given a uniform rng). */
export function shuffleInPlace(a: Int32Array, rng: Rng): Int32Array {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}

/** 0, 1, ..., n-1 */
export function iota(n: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}
