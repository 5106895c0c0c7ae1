import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmsnormBackwardCpu } from '../cpu/rmsnorm.js';
import { lastBackend, setBackend, type RmsNormBackwardArgs } from '../../registry.js';
import { rmsNorm } from '../../ops/rmsnorm.js';
import { Tensor } from '../../tensor.js';
import { randomF32 } from '../../bench/gemm-reference.js';
import { relErr } from '../../testing/rel-err.js';
import { disposeWasmBackend, initWasmBackend } from './index.js';
import { WasmRmsNormBackward } from './rmsnorm-backward-module.js';

function build(rows: number, cols: number, seed: number, withGx: boolean, withGw: boolean): RmsNormBackwardArgs {
  return {
    x: randomF32(rows * cols, seed),
    weight: randomF32(cols, seed + 1).map((v) => 1 + v),
    invRms: randomF32(rows, seed + 2).map((v) => 0.5 + Math.abs(v)),
    g: randomF32(rows * cols, seed + 3),
    rows, cols,
    gx: withGx ? new Float32Array(rows * cols) : null,
    // gw accumulates: start from non-zero values
    gw: withGw ? randomF32(cols, seed + 4) : null,
  };
}
const clone = (a: RmsNormBackwardArgs): RmsNormBackwardArgs => ({ ...a, gx: a.gx?.slice() ?? null, gw: a.gw?.slice() ?? null });

describe('wasm rmsnormBackward kernel', () => {
  beforeAll(async () => {
    expect((await initWasmBackend({ threads: 1 })).ok).toBe(true);
  });
  afterAll(() => {
    disposeWasmBackend();
    setBackend(['cpu']);
  });

  it('property: gx and the accumulated gw agree with the oracle to f32 accuracy; any shape (padding, several blocks), either output absent', () => {
    const k = WasmRmsNormBackward.create();
    fc.assert(fc.property(
      fc.oneof(fc.record({ rows: fc.integer({ min: 1, max: 9 }), cols: fc.integer({ min: 1, max: 70 }) }), fc.record({ rows: fc.integer({ min: 30, max: 60 }), cols: fc.constantFrom(4096, 4099) })),
      fc.integer({ min: 0, max: 2 ** 30 }),
      fc.boolean(), fc.boolean(),
      ({ rows, cols }, seed, withGx, withGw) => {
        const a = build(rows, cols, seed, withGx, withGw);
        const b = clone(a);
        rmsnormBackwardCpu(a);
        k.run(b);
        if (withGx) expect(relErr(b.gx!, a.gx!)).toBeLessThan(1e-5);
        if (withGw) expect(relErr(b.gw!, a.gw!)).toBeLessThan(1e-5);
      },
    ), { numRuns: 60 });
  });

  it('rmsNorm\'s backward runs on wasm and matches the cpu chain', () => {
    const x = randomF32(6 * 20, 3), w = randomF32(20, 4).map((v) => 1 + v), g = randomF32(6 * 20, 5);
    const grads = (chain: string[]) => {
      setBackend(chain);
      const xt = new Tensor(x.slice(), [6, 20], { requiresGrad: true });
      const wt = new Tensor(w.slice(), [20], { requiresGrad: true });
      return rmsNorm(xt, wt, 1e-6).node!.backward(g, () => new Float32Array(0));
    };
    const [cx, cw] = grads(['cpu']);
    const [wx, ww] = grads(['wasm']);
    expect(lastBackend('rmsnormBackward')).toBe('wasm');
    expect(relErr(wx!, cx!)).toBeLessThan(1e-5);
    expect(relErr(ww!, cw!)).toBeLessThan(1e-5);
  });
});
