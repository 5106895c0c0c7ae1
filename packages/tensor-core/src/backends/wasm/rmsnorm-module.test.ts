import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmsnormCpu } from '../cpu/rmsnorm.js';
import { lastBackend, setBackend, type RmsNormArgs } from '../../registry.js';
import { rmsNorm } from '../../ops/rmsnorm.js';
import { Tensor } from '../../tensor.js';
import { randomF32 } from '../../bench/gemm-reference.js';
import { relErr } from '../../testing/rel-err.js';
import { disposeWasmBackend, initWasmBackend } from './index.js';
import { WasmRmsNorm } from './rmsnorm-module.js';

function build(rows: number, cols: number, seed: number, withInv: boolean): RmsNormArgs {
  return {
    x: randomF32(rows * cols, seed).map((v, i) => v * (1 + (i % 7))),
    weight: randomF32(cols, seed + 1).map((v) => 1 + v),
    // out starts dirty: the kernel must overwrite every element
    out: randomF32(rows * cols, seed + 2),
    rows, cols, eps: 1e-5,
    ...(withInv ? { invRms: new Float32Array(rows).fill(NaN) } : {}),
  };
}
const clone = (a: RmsNormArgs): RmsNormArgs => ({ ...a, out: a.out.slice(), ...(a.invRms ? { invRms: a.invRms.slice() } : {}) });

describe('wasm rmsnorm kernel', () => {
  beforeAll(async () => {
    expect((await initWasmBackend({ threads: 1 })).ok).toBe(true);
  });
  afterAll(() => {
    disposeWasmBackend();
    setBackend(['cpu']);
  });

  it('property: out and invRms agree with the oracle to f32 accuracy; any shape (padding lanes, several blocks), invRms absent or given', () => {
    const k = WasmRmsNorm.create();
    fc.assert(fc.property(
      fc.oneof(fc.record({ rows: fc.integer({ min: 1, max: 9 }), cols: fc.integer({ min: 1, max: 70 }) }), fc.record({ rows: fc.integer({ min: 30, max: 70 }), cols: fc.constantFrom(4096, 4099) })),
      fc.integer({ min: 0, max: 2 ** 30 }),
      fc.boolean(),
      ({ rows, cols }, seed, withInv) => {
        const a = build(rows, cols, seed, withInv);
        const b = clone(a);
        rmsnormCpu(a);
        k.run(b);
        expect(relErr(b.out, a.out)).toBeLessThan(1e-5);
        if (withInv) expect(relErr(b.invRms!, a.invRms!)).toBeLessThan(1e-5);
      },
    ), { numRuns: 60 });
  });

  it('rmsNorm runs on wasm, forward and backward, and matches the cpu chain', () => {
    const x = randomF32(6 * 20, 3), w = randomF32(20, 4).map((v) => 1 + v), g = randomF32(6 * 20, 5);
    const run = (chain: string[]) => {
      setBackend(chain);
      const xt = new Tensor(x.slice(), [6, 20], { requiresGrad: true });
      const wt = new Tensor(w.slice(), [20], { requiresGrad: true });
      const y = rmsNorm(xt, wt, 1e-6);
      return [y.f32().slice(), ...y.node!.backward(g, () => new Float32Array(0))] as Float32Array[];
    };
    const [cy, cx, cw] = run(['cpu']);
    const [wy, wx, ww] = run(['wasm']);
    expect(lastBackend('rmsnorm')).toBe('wasm');
    expect(relErr(wy!, cy!)).toBeLessThan(1e-5);
    expect(relErr(wx!, cx!)).toBeLessThan(1e-5);
    expect(relErr(ww!, cw!)).toBeLessThan(1e-5);
  });
});
