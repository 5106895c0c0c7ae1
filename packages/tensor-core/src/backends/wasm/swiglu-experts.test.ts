import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastBackend, setBackend, type SwigluExpertsArgs } from '../../registry.js';
import { Tensor } from '../../tensor.js';
import { noGrad } from '../../autograd.js';
import { pinTensors } from '../../pin-tensors.js';
import { swigluExperts } from '../../ops/swiglu-experts.js';
import { swigluMlp } from '../../ops/swiglu-mlp.js';
import { randomF32 } from '../../bench/gemm-reference.js';
import { relErr } from '../../testing/rel-err.js';
import { swigluExpertsCpu } from '../cpu/swiglu-experts.js';
import { disposeWasmBackend, initWasmBackend } from './index.js';
import { WeightArena } from './weight-arena.js';

/** Room for the property's largest call: 40 experts of up to 32 neurons, D up to 64, three matrices each. */
const CAP = 40 * 3 * 32 * 64;

describe('swigluExperts (a token through its experts in one call)', () => {
  const arenas: { arena: WeightArena; room: Float32Array }[] = [];
  beforeAll(async () => {
    expect((await initWasmBackend({ threads: 1 })).ok).toBe(true);
    for (const threads of [1, 2]) {
      const made = await WeightArena.create([new Float32Array(CAP)], { threads, minFloats: 0 });
      arenas.push({ arena: made!.arena, room: made!.views[0]! });
    }
    expect(arenas[1]!.arena.threads).toBe(2);
  });
  afterAll(() => {
    for (const a of arenas) a.arena.dispose();
    disposeWasmBackend();
    setBackend(['cpu']);
  });

  it('the cpu oracle is Σ coef · swigluMlp over the experts', () => {
    setBackend(['cpu']);
    const D = 12, sizes = [8, 5, 16];
    const x = new Tensor(randomF32(D, 1), [1, D]);
    const ex = sizes.map((s, e) => ({ gate: new Tensor(randomF32(s * D, 10 + e), [s, D]), up: new Tensor(randomF32(s * D, 20 + e), [s, D]), down: new Tensor(randomF32(D * s, 30 + e), [D, s]) }));
    const coef = [0.7, -1.25, 2];
    const want = new Float32Array(D);
    ex.forEach((e, j) => swigluMlp(x, e.gate, e.up, e.down).f32().forEach((v, d) => { want[d]! += coef[j]! * v; }));
    const out = new Float32Array(D);
    swigluExpertsCpu({ x: x.f32(), gates: ex.map((e) => e.gate.f32()), ups: ex.map((e) => e.up.f32()), downs: ex.map((e) => e.down.f32()), coef, sizes, dim: D, out });
    expect(relErr(out, want)).toBeLessThan(1e-5);
  });

  it('property: the arena kernel agrees with the oracle, one and two threads, any number of experts (several rounds of the pool\'s slots) and sizes', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 16 }).map((q) => 4 * q), // D
      fc.oneof( // expert sizes: a token's few, or more than one round of the pool's slots (14 calls per thread)
        fc.array(fc.integer({ min: 1, max: 8 }).map((q) => 4 * q), { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 8 }).map((q) => 4 * q), { minLength: 15, maxLength: 40 }),
      ),
      fc.integer({ min: 0, max: 2 ** 30 }), fc.integer({ min: 0, max: 1 }),
      (D, sizes, seed, which) => {
        const { arena, room } = arenas[which]!;
        let at = 0;
        const place = (n: number, s: number) => { const v = room.subarray(at, at + n); v.set(randomF32(n, s)); at += n; return v; };
        const a: SwigluExpertsArgs = {
          x: randomF32(D, seed), sizes, dim: D, out: randomF32(D, seed + 1),
          gates: sizes.map((s, e) => place(s * D, seed + 3 * e + 2)), ups: sizes.map((s, e) => place(s * D, seed + 3 * e + 3)), downs: sizes.map((s, e) => place(D * s, seed + 3 * e + 4)),
          coef: randomF32(sizes.length, seed + 5),
        };
        const want = new Float32Array(D);
        swigluExpertsCpu({ ...a, out: want });
        expect(arena.takesExperts(a)).toBe(true);
        expect(arena.swigluExperts(a)).toBe(true);
        expect(relErr(a.out, want)).toBeLessThan(1e-4);
      },
    ), { numRuns: 60 });
  });

  it('declines what it cannot read in place: a weight outside the arena, a size or D not a multiple of 4', () => {
    const { arena, room } = arenas[1]!;
    const D = 8;
    const base: SwigluExpertsArgs = { x: new Float32Array(D), gates: [room.subarray(0, 32)], ups: [room.subarray(32, 64)], downs: [room.subarray(64, 96)], coef: [1], sizes: [4], dim: D, out: new Float32Array(D) };
    expect(arena.takesExperts(base)).toBe(true);
    expect(arena.takesExperts({ ...base, downs: [new Float32Array(32)] })).toBe(false);
    expect(arena.takesExperts({ ...base, sizes: [3], gates: [room.subarray(0, 24)], ups: [room.subarray(24, 48)], downs: [room.subarray(48, 72)] })).toBe(false);
    expect(arena.swigluExperts({ ...base, dim: 6, x: new Float32Array(6), out: new Float32Array(6) })).toBe(false);
  });

  it('the op: pinned weights run on wasm, unpinned ones on the cpu oracle, the same result; refuses inputs that need a gradient', async () => {
    setBackend(['wasm', 'cpu']);
    const D = 16, sizes = [8, 12, 4];
    const make = () => sizes.map((s, e) => ({ gate: new Tensor(randomF32(s * D, 40 + e), [s, D]), up: new Tensor(randomF32(s * D, 50 + e), [s, D]), down: new Tensor(randomF32(D * s, 60 + e), [D, s]) }));
    const x = new Tensor(randomF32(D, 7), [1, D]);
    const plain = make(), pinned = make();
    expect((await pinTensors(pinned.flatMap((e) => [e.gate, e.up, e.down]), { minFloats: 0, threads: 2 }))!.tensors).toBe(9);
    const coef = [1, 0.5, -2];
    const a = noGrad(() => swigluExperts(x, plain, coef)).f32().slice();
    expect(lastBackend('swigluExperts')).toBe('cpu');
    const b = noGrad(() => swigluExperts(x, pinned, coef)).f32();
    expect(lastBackend('swigluExperts')).toBe('wasm');
    expect(relErr(b, a)).toBeLessThan(1e-5);
    const g = new Tensor(randomF32(D, 8), [1, D], { requiresGrad: true });
    expect(() => swigluExperts(g, plain, coef)).toThrow('swigluExperts: inference only');
    expect(() => swigluExperts(new Tensor(randomF32(2 * D, 9), [2, D]), plain, coef)).toThrow('expected one token');
  });
});
