/**
 * Seeded randomness: xoshiro128** (fast, 128-bit state, JSON-serialisable for exact resume) with
 * Box–Muller normals. Every random choice in llama-moe flows from one of these, so a seed fixes a run.
 */
import { Tensor, shapeSize, type Shape } from './tensor.js';

export interface RngState { s: [number, number, number, number]; spare: number | null }

export interface Rng {
  /** Uniform in [0, 1) with 32 random bits. */
  uniform(): number;
  /** Standard normal. */
  normal(): number;
  /** Integer in [0, n). */
  int(n: number): number;
  state(): RngState;
  setState(s: RngState): void;
}

function splitmix32(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export function createRng(seed: number | RngState = 0): Rng {
  let s: [number, number, number, number];
  let spare: number | null = null;
  if (typeof seed === 'number') {
    const sm = splitmix32(Math.floor(seed) ^ Math.floor(seed / 2 ** 32));
    s = [sm(), sm(), sm(), sm()];
    if (!(s[0] | s[1] | s[2] | s[3])) s[0] = 1;
  } else {
    s = [...seed.s] as [number, number, number, number];
    spare = seed.spare;
  }
  const next = (): number => {
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    s[0] >>>= 0; s[1] >>>= 0; s[2] >>>= 0; s[3] >>>= 0;
    return result;
  };
  const rng: Rng = {
    uniform: () => next() / 4294967296,
    normal: () => {
      if (spare !== null) { const v = spare; spare = null; return v; }
      let u = 0;
      while (u === 0) u = rng.uniform();
      const v = rng.uniform();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
    int: (n: number) => Math.floor(rng.uniform() * n),
    state: () => ({ s: [...s] as [number, number, number, number], spare }),
    setState: (st: RngState) => { s = [...st.s] as [number, number, number, number]; spare = st.spare; },
  };
  return rng;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** N(0, std²) tensor. */
export function randn(shape: Shape, rng: Rng, std = 1, opts: { requiresGrad?: boolean; name?: string } = {}): Tensor {
  const d = new Float32Array(shapeSize(shape));
  for (let i = 0; i < d.length; i++) d[i] = rng.normal() * std;
  return new Tensor(d, shape, opts);
}

/** U[lo, hi) tensor. */
export function uniform(shape: Shape, rng: Rng, lo = 0, hi = 1): Tensor {
  const d = new Float32Array(shapeSize(shape));
  for (let i = 0; i < d.length; i++) d[i] = lo + (hi - lo) * rng.uniform();
  return new Tensor(d, shape);
}
