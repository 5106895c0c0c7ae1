/**
 * Deterministic, seedable random numbers that give bit-identical streams in Node and in browsers.
 *
 * Generator: xoshiro128** (Blackman & Vigna), 32-bit state words, seeded through splitmix32 so
 * that nearby seeds (0, 1, 2, ...) give unrelated streams. Normals: Box-Muller, both values of
 * each pair are used (the second is cached), so `normal()` costs one `log`, one `sqrt` and one
 * `cos`/`sin` per two samples. Only `Math.imul`, `Math.log`, `Math.sqrt`, `Math.cos` and
 * `Math.sin` are used; the last three are not guaranteed bit-identical across JS engines, so
 * normals may differ in the last ulp between engines while uniforms are exact.
 */
import { RouterError, type FloatArray } from './errors.js';

export interface RngState {
  /** xoshiro128** state, four uint32 words. */
  s: [number, number, number, number];
  /** Cached second Box-Muller value, or null. */
  spare: number | null;
}

export interface Rng {
  /** Next raw 32-bit output as an unsigned integer. */
  nextUint32(): number;
  /** Uniform in [0, 1) with 32 random bits. */
  uniform(): number;
  /** Uniform integer in [0, n), n <= 2^32. */
  int(n: number): number;
  /** Standard normal N(0, 1). */
  normal(): number;
  /** Fills `out` with N(mean, std²) samples and returns it. */
  fillNormal<A extends FloatArray>(out: A, mean?: number, std?: number): A;
  /** Fills `out` with uniform samples in [lo, hi) and returns it. */
  fillUniform<A extends FloatArray>(out: A, lo?: number, hi?: number): A;
  /** A new generator seeded from this one's stream (this one advances by 4 outputs). */
  fork(): Rng;
  /** Snapshot of the state; `createRngFromState(getState())` continues the same stream. */
  getState(): RngState;
  setState(state: RngState): void;
}

const TWO_POW_32 = 4294967296;

/** splitmix32 step: a well-mixed 32-bit value from a 32-bit counter. */
function splitmix32(a: number): number {
  let t = (a + 0x9e3779b9) | 0;
  t = Math.imul(t ^ (t >>> 16), 0x21f0aaad);
  t = Math.imul(t ^ (t >>> 15), 0x735a2d97);
  return (t ^ (t >>> 15)) >>> 0;
}

/**
 * Creates a generator from an integer seed (any safe integer; the high 21 bits are mixed in too).
 */
export function createRng(seed: number): Rng {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new RouterError('argument', 'createRng', `seed must be a safe integer, got ${String(seed)}`);
  }
  const lo = seed >>> 0;
  const hi = Math.floor(seed / TWO_POW_32) >>> 0;
  let c = lo ^ Math.imul(hi, 0x85ebca6b);
  const s: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    c = (c + 0x6d2b79f5) | 0;
    s[i] = splitmix32(c ^ hi);
  }
  // xoshiro must not start from the all-zero state.
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
  return createRngFromState({ s, spare: null });
}

/** Rebuilds a generator from a `getState()` snapshot. */
export function createRngFromState(state: RngState): Rng {
  if (!state || !Array.isArray(state.s) || state.s.length !== 4) {
    throw new RouterError('argument', 'createRngFromState', 'state.s must be an array of four uint32 words from Rng.getState()');
  }
  let s0 = state.s[0] >>> 0;
  let s1 = state.s[1] >>> 0;
  let s2 = state.s[2] >>> 0;
  let s3 = state.s[3] >>> 0;
  if ((s0 | s1 | s2 | s3) === 0) {
    throw new RouterError('argument', 'createRngFromState', 'state.s is all zeros, which xoshiro128** never leaves; use createRng(seed)');
  }
  let spare: number | null = state.spare ?? null;

  const nextUint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };
  const uniform = (): number => nextUint32() / TWO_POW_32;
  const normal = (): number => {
    if (spare !== null) {
      const v = spare;
      spare = null;
      return v;
    }
    // 1 - u lies in (0, 1], so the log is finite.
    const u1 = 1 - uniform();
    const u2 = uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };

  const rng: Rng = {
    nextUint32,
    uniform,
    int(n: number): number {
      if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
        throw new RouterError('argument', 'Rng.int', `n must be an integer in [1, 2^32], got ${String(n)}`);
      }
      return Math.floor(uniform() * n);
    },
    normal,
    fillNormal<A extends FloatArray>(out: A, mean = 0, std = 1): A {
      for (let i = 0; i < out.length; i++) out[i] = mean + std * normal();
      return out;
    },
    fillUniform<A extends FloatArray>(out: A, lo = 0, hi = 1): A {
      const w = hi - lo;
      for (let i = 0; i < out.length; i++) out[i] = lo + w * uniform();
      return out;
    },
    fork(): Rng {
      const child = [nextUint32(), nextUint32(), nextUint32(), nextUint32()] as [number, number, number, number];
      if ((child[0] | child[1] | child[2] | child[3]) === 0) child[0] = 1;
      return createRngFromState({ s: child, spare: null });
    },
    getState(): RngState {
      return { s: [s0 >>> 0, s1 >>> 0, s2 >>> 0, s3 >>> 0], spare };
    },
    setState(next: RngState): void {
      const fresh = createRngFromState(next).getState();
      [s0, s1, s2, s3] = fresh.s;
      spare = fresh.spare;
    },
  };
  return rng;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
