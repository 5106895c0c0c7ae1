import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RouterError, createRng, createRngFromState } from './index.js';

describe('createRng', () => {
  it('is deterministic per seed and differs across nearby seeds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (seed) => {
        const a = createRng(seed);
        const b = createRng(seed);
        const c = createRng(seed + 1);
        const xa = Array.from({ length: 8 }, () => a.nextUint32());
        const xb = Array.from({ length: 8 }, () => b.nextUint32());
        const xc = Array.from({ length: 8 }, () => c.nextUint32());
        expect(xa).toEqual(xb);
        expect(xa).not.toEqual(xc);
      }),
      { numRuns: 50 },
    );
  });

  it('implements xoshiro128** exactly (reference vector from state [1, 2, 3, 4]) and pins seeding', () => {
    // 11520, 0, 5927040 follow by hand from the xoshiro128** update rules; the seeded values are
    // golden: any change to seeding or the generator changes every seeded experiment.
    const r = createRngFromState({ s: [1, 2, 3, 4], spare: null });
    expect([r.nextUint32(), r.nextUint32(), r.nextUint32(), r.nextUint32()]).toEqual([11520, 0, 5927040, 70819200]);
    const g = createRng(42);
    expect([g.nextUint32(), g.nextUint32(), g.nextUint32()]).toEqual([991063287, 3317404375, 237945310]);
  });

  it('draws uniforms in [0, 1) and normals with mean 0 and variance 1', () => {
    const r = createRng(7);
    const n = 200_000;
    let su = 0;
    let sn = 0;
    let sn2 = 0;
    let inRange = true;
    for (let i = 0; i < n; i++) {
      const u = r.uniform();
      inRange &&= u >= 0 && u < 1;
      su += u;
      const z = r.normal();
      sn += z;
      sn2 += z * z;
    }
    expect(inRange).toBe(true);
    expect(Math.abs(su / n - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(sn / n)).toBeLessThan(0.01);
    expect(Math.abs(sn2 / n - 1)).toBeLessThan(0.02);
  });

  it('int(n) stays in range and fillUniform respects bounds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 0, max: 1e6 }), (n, seed) => {
        const r = createRng(seed);
        for (let i = 0; i < 50; i++) {
          const v = r.int(n);
          expect(Number.isInteger(v) && v >= 0 && v < n).toBe(true);
        }
        const buf = r.fillUniform(new Float64Array(32), -2, 3);
        for (const v of buf) expect(v >= -2 && v < 3).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it('getState / createRngFromState continue the same stream, including the cached normal', () => {
    const r = createRng(123);
    r.normal(); // leaves a cached spare
    const snap = r.getState();
    const a = [r.normal(), r.normal(), r.uniform()];
    const b = createRngFromState(snap);
    expect([b.normal(), b.normal(), b.uniform()]).toEqual(a);
    r.setState(snap);
    expect([r.normal(), r.normal(), r.uniform()]).toEqual(a);
  });

  it('fork gives an independent but reproducible child', () => {
    const a = createRng(5).fork();
    const b = createRng(5).fork();
    expect(a.nextUint32()).toBe(b.nextUint32());
    const parent = createRng(5);
    expect(parent.nextUint32()).not.toBe(createRng(5).fork().nextUint32());
  });

  it('rejects bad seeds with a typed error', () => {
    expect(() => createRng(1.5)).toThrow(RouterError);
    expect(() => createRng(Number.NaN)).toThrow(/seed must be a safe integer/);
    expect(() => createRngFromState({ s: [0, 0, 0, 0], spare: null })).toThrow(RouterError);
  });
});
