import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { swigluBackwardCpu, swigluCpu } from '../cpu/elementwise.js';
import { lastBackend, setBackend } from '../../registry.js';
import { swiglu } from '../../ops/swiglu.js';
import { Tensor } from '../../tensor.js';
import { randomF32 } from '../../bench/gemm-reference.js';
import { disposeWasmBackend, initWasmBackend } from './index.js';
import { CHUNK, WasmSwiglu } from './swiglu-module.js';

/**
 * Index of the first element off by more than 1e-5 of the array's largest magnitude, or -1: f32
 * accuracy at the array's scale (silu's derivative crosses zero near x = −1.28, where any f32
 * evaluation, torch's included, has a large error relative to the tiny value itself).
 */
function close(a: Float32Array, b: Float32Array): number {
  let scale = 1e-30;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  for (let i = 0; i < a.length; i++) if (!(Math.abs(a[i]! - b[i]!) <= 1e-5 * scale)) return i;
  return -1;
}

describe('wasm swiglu kernels', () => {
  beforeAll(async () => {
    expect((await initWasmBackend({ threads: 1 })).ok).toBe(true);
  });
  afterAll(() => {
    disposeWasmBackend();
    setBackend(['cpu']);
  });

  it('property: forward and backward agree with the oracle to f32 accuracy, any length (chunk edges), gates from −100 to 100', () => {
    const k = WasmSwiglu.create();
    fc.assert(fc.property(
      fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: CHUNK - 3, max: CHUNK + 5 }), fc.integer({ min: 2 * CHUNK + 1, max: 3 * CHUNK })),
      fc.integer({ min: 0, max: 2 ** 30 }),
      fc.constantFrom(1, 8, 100),
      fc.boolean(), fc.boolean(),
      (n, seed, spread, withDG, withDU) => {
        const gate = randomF32(n, seed).map((v) => v * spread), up = randomF32(n, seed + 1), g = randomF32(n, seed + 2);
        const o1 = new Float32Array(n), o2 = new Float32Array(n);
        swigluCpu({ gate, up, out: o1 });
        k.forward({ gate, up, out: o2 });
        expect(close(o2, o1)).toBe(-1);
        const a = { gate, up, g, dGate: withDG ? new Float32Array(n) : null, dUp: withDU ? new Float32Array(n) : null };
        const b = { gate, up, g, dGate: withDG ? new Float32Array(n) : null, dUp: withDU ? new Float32Array(n) : null };
        swigluBackwardCpu(a);
        k.backward(b);
        if (withDG) expect(close(b.dGate!, a.dGate!)).toBe(-1);
        if (withDU) expect(close(b.dUp!, a.dUp!)).toBe(-1);
      },
    ), { numRuns: 60 });
  });

  it('the swiglu op runs both directions on wasm and matches the cpu chain', () => {
    const gv = randomF32(50, 1).map((v) => v * 6), uv = randomF32(50, 2), go = randomF32(50, 3);
    const run = (chain: string[]) => {
      setBackend(chain);
      const gt = new Tensor(gv.slice(), [5, 10], { requiresGrad: true }), ut = new Tensor(uv.slice(), [5, 10], { requiresGrad: true });
      const y = swiglu(gt, ut);
      const [dg, du] = y.node!.backward(go, () => new Float32Array(0));
      return { y: y.data as Float32Array, dg: dg!, du: du! };
    };
    const c = run(['cpu']);
    const w = run(['wasm']);
    expect(lastBackend('swiglu')).toBe('wasm');
    expect(lastBackend('swigluBackward')).toBe('wasm');
    expect(close(w.y, c.y)).toBe(-1);
    expect(close(w.dg, c.dg)).toBe(-1);
    expect(close(w.du, c.du)).toBe(-1);
  });
});
