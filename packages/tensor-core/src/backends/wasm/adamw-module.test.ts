import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomF32 } from '../../bench/gemm-reference.js';
import { adamwCpu } from '../cpu/adamw.js';
import { lastBackend, setBackend, type AdamwArgs } from '../../registry.js';
import { adamwUpdate, allocAdamwState } from '../../ops/optim.js';
import { disposeWasmBackend, initWasmBackend } from './index.js';
import { AdamwStateArena, CHUNK, WasmAdamw } from './adamw-module.js';

interface Case { n: number; seed: number; gradScale: number; decay: number; beta1: number; beta2: number; stepSize: number; bc2Sqrt: number; eps: number }

/** Lengths around the chunk and SIMD boundaries, scalars over the ranges training uses (and beyond). */
const arbCase: fc.Arbitrary<Case> = fc.record({
  n: fc.oneof(fc.integer({ min: 0, max: 37 }), fc.integer({ min: CHUNK - 5, max: CHUNK + 5 }), fc.integer({ min: 2 * CHUNK + 1, max: 3 * CHUNK + 7 })),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  gradScale: fc.oneof(fc.constant(1), fc.double({ min: 1e-4, max: 1, noNaN: true })),
  decay: fc.oneof(fc.constant(1), fc.double({ min: 0.9, max: 1, noNaN: true })),
  beta1: fc.double({ min: 0.5000001, max: 0.999, noNaN: true }),
  beta2: fc.double({ min: 0.5, max: 0.9999, noNaN: true }),
  stepSize: fc.double({ min: 1e-7, max: 1, noNaN: true }),
  bc2Sqrt: fc.double({ min: 1e-3, max: 1, noNaN: true }),
  eps: fc.oneof(fc.constant(1e-8), fc.double({ min: 1e-12, max: 1e-3, noNaN: true })),
});

function build(c: Case): AdamwArgs {
  const abs = (a: Float32Array) => a.map(Math.abs);
  return {
    param: randomF32(c.n, c.seed),
    grad: randomF32(c.n, c.seed + 1).map((x) => x * 3),
    expAvg: randomF32(c.n, c.seed + 2).map((x) => x * 0.1),
    // v ≥ 0 as in training; zeros included (first step) through the small lengths' values
    expAvgSq: abs(randomF32(c.n, c.seed + 3)).map((x) => (x < 0.05 ? 0 : x * x)),
    gradScale: c.gradScale, decay: c.decay, beta1: c.beta1, beta2: c.beta2, stepSize: c.stepSize, bc2Sqrt: c.bc2Sqrt, eps: c.eps,
  };
}
/** Index of the first element whose bits differ, or -1 (toEqual on 25K-element arrays is slow). */
function firstBitDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}
const copy = (a: AdamwArgs): AdamwArgs => ({ ...a, param: a.param.slice(), grad: a.grad.slice(), expAvg: a.expAvg.slice(), expAvgSq: a.expAvgSq.slice() });

describe('wasm adamw kernel', () => {
  beforeAll(async () => {
    const s = await initWasmBackend({ threads: 1 });
    expect(s.ok).toBe(true);
  });
  afterAll(() => {
    disposeWasmBackend();
    setBackend(['cpu']);
  });

  it('property: bit-identical to the cpu oracle (θ, m, v), any length, chunk edges included; the gradient is not written', () => {
    const kernel = WasmAdamw.create();
    fc.assert(fc.property(arbCase, (c) => {
      const a = build(c);
      const b = copy(a);
      const g0 = a.grad.slice();
      adamwCpu(a);
      kernel.update(b);
      expect(firstBitDiff(b.param, a.param)).toBe(-1);
      expect(firstBitDiff(b.expAvg, a.expAvg)).toBe(-1);
      expect(firstBitDiff(b.expAvgSq, a.expAvgSq)).toBe(-1);
      expect(firstBitDiff(b.grad, g0)).toBe(-1);
    }), { numRuns: 60 });
  });

  it('the registry runs it on wasm; β1 ≤ 0.5 (lerp\'s other form) falls back to cpu with the same result', () => {
    setBackend(['wasm']);
    const base = build({ n: 1000, seed: 7, gradScale: 1, decay: 0.99, beta1: 0.9, beta2: 0.95, stepSize: 1e-3, bc2Sqrt: 0.3, eps: 1e-8 });
    const ref = copy(base);
    adamwCpu(ref);
    const a = copy(base);
    adamwUpdate(a, 'w');
    expect(lastBackend('adamw')).toBe('wasm');
    expect(a.param).toEqual(ref.param);
    const low = { ...copy(base), beta1: 0.3 };
    const lowRef = copy(low);
    adamwCpu(lowRef);
    adamwUpdate(low, 'w');
    expect(lastBackend('adamw')).toBe('cpu');
    expect(low.param).toEqual(lowRef.param);
    expect(low.expAvg).toEqual(lowRef.expAvg);
  });

  it('rejects arrays of different lengths, naming the parameter', () => {
    const a = build({ n: 8, seed: 1, gradScale: 1, decay: 1, beta1: 0.9, beta2: 0.95, stepSize: 1e-3, bc2Sqrt: 0.3, eps: 1e-8 });
    expect(() => adamwUpdate({ ...a, expAvgSq: new Float32Array(7) }, 'lm_head.weight')).toThrow(/'lm_head\.weight': expAvgSq has 7 elements, the parameter has 8/);
  });

  it('property: state allocated in an arena updates in place, bit-identical to the oracle, and a chunk tail never touches the next parameter', () => {
    fc.assert(fc.property(fc.array(arbCase, { minLength: 1, maxLength: 4 }), fc.nat(), (cases, pick) => {
      setBackend(['wasm']);
      const states = allocAdamwState(cases.map((c) => c.n));
      expect(lastBackend('adamwState')).toBe('wasm');
      // zeroed, as torch's lazily created state
      for (const st of states) expect(st.expAvg.every((v) => v === 0) && st.expAvgSq.every((v) => v === 0)).toBe(true);
      const args = cases.map((c, i) => {
        const a = build(c);
        states[i]!.expAvg.set(a.expAvg);
        states[i]!.expAvgSq.set(a.expAvgSq);
        return { ...a, expAvg: states[i]!.expAvg, expAvgSq: states[i]!.expAvgSq };
      });
      const refs = args.map((a) => copy(a));
      // update one parameter only: its neighbours' moments must stay as they were
      const j = pick % args.length;
      adamwCpu(refs[j]!);
      adamwUpdate(args[j]!, 'p');
      expect(lastBackend('adamw')).toBe('wasm');
      args.forEach((a, i) => {
        expect(firstBitDiff(a.param, refs[i]!.param), `param ${i}`).toBe(-1);
        expect(firstBitDiff(a.expAvg, refs[i]!.expAvg), `m ${i}`).toBe(-1);
        expect(firstBitDiff(a.expAvgSq, refs[i]!.expAvgSq), `v ${i}`).toBe(-1);
      });
    }), { numRuns: 30 });
  });

  it('state on the cpu backend is plain arrays; arenas are views of one WebAssembly memory', () => {
    setBackend(['cpu']);
    const plain = allocAdamwState([5, 9]);
    expect(plain[0]!.expAvg.buffer).not.toBe(plain[1]!.expAvg.buffer);
    setBackend(['wasm']);
    const arena = allocAdamwState([5, 9]);
    expect(arena[0]!.expAvg.buffer).toBe(arena[1]!.expAvgSq.buffer);
    expect(arena.map((s) => [s.expAvg.length, s.expAvgSq.length])).toEqual([[5, 5], [9, 9]]);
    expect(AdamwStateArena.bytesFor([5, 9])).toBe(8 * CHUNK + 2 * 4 * (8 + 12));
  });
});

