import { DataError } from './errors.js';

/**
 * A small seedable PRNG whose whole state is four uint32 words, so it round-trips through
 * JSON exactly (Math.random cannot be saved and restored; exact resume needs that).
 *
 * Generator: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, 32-bit variant), seeded
 * through a string hash so `seed` may be any number or string and sub-streams (one per domain)
 * are derived by name: adding a domain does not change the streams of the others.
 */
export type RngState = [number, number, number, number];

/** cyrb128-style string hash → four 32-bit words; used only for seeding. */
function hash128(str: string): RngState {
  let h1 = 1779033703, h2 = 3144134277, h3 = 1013904242, h4 = 2773480762;
  for (let i = 0; i < str.length; i++) {
    const k = str.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  private constructor(s: RngState) {
    [this.a, this.b, this.c, this.d] = s;
  }

  /** A generator for `seed`, optionally a named sub-stream (`Rng.seeded(7, 'github')`). */
  static seeded(seed: number | string, stream = ''): Rng {
    const r = new Rng(hash128(`${String(seed)}\u0000${stream}`));
    // Discard the first outputs: sfc32 mixes weakly during its first few rounds.
    for (let i = 0; i < 12; i++) r.nextU32();
    return r;
  }

  static fromState(s: RngState): Rng {
    if (!Array.isArray(s) || s.length !== 4 || s.some((x) => !Number.isInteger(x) || x < 0 || x > 0xffffffff)) {
      let shown: string;
      try {
        shown = JSON.stringify(s)?.slice(0, 200) ?? String(s);
      } catch {
        shown = typeof s;
      }
      throw new DataError('state', `Rng.fromState: expected four uint32 words, got ${shown}; pass the array from rng.state()`);
    }
    return new Rng([s[0], s[1], s[2], s[3]]);
  }

  state(): RngState {
    return [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0];
  }

  nextU32(): number {
    const a = this.a | 0, b = this.b | 0, c = this.c | 0, d = this.d | 0;
    const t = (((a + b) | 0) + d) | 0;
    this.d = (d + 1) | 0;
    this.a = b ^ (b >>> 9);
    this.b = (c + (c << 3)) | 0;
    this.c = ((c << 21) | (c >>> 11)) + t;
    this.c |= 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n) without modulo bias. */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 0x100000000) throw new RangeError(`Rng.nextInt: n must be an integer in [1, 2^32], got ${n}`);
    const limit = 0x100000000 - (0x100000000 % n);
    let x = this.nextU32();
    while (x >= limit) x = this.nextU32();
    return x % n;
  }

  /** Index drawn with probability proportional to `weights[i]` (non-negative, positive sum). */
  categorical(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) total += weights[i]!;
    let u = this.nextFloat() * total;
    let last = -1;
    for (let i = 0; i < weights.length; i++) {
      if (weights[i]! <= 0) continue;
      last = i;
      if (u < weights[i]!) return i;
      u -= weights[i]!;
    }
    // Float round-off can leave u a hair above the last bucket: it belongs to the last positive one.
    if (last < 0) throw new RangeError('Rng.categorical: all weights are zero');
    return last;
  }

  /** Fisher-Yates, in place. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const t = xs[i]!;
      xs[i] = xs[j]!;
      xs[j] = t;
    }
    return xs;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.nextInt(xs.length)]!;
  }
}
