import fc from 'fast-check';
import { expect, test } from 'vitest';
import { Rng } from './rng.js';

test('state survives a JSON round trip at any point', () => {
  fc.assert(
    fc.property(fc.oneof(fc.integer(), fc.string()), fc.nat({ max: 500 }), (seed, k) => {
      const a = Rng.seeded(seed);
      for (let i = 0; i < k; i++) a.nextU32();
      const b = Rng.fromState(JSON.parse(JSON.stringify(a.state())));
      for (let i = 0; i < 20; i++) expect(b.nextU32()).toBe(a.nextU32());
    }),
  );
  expect(() => Rng.fromState([1, 2, 3] as never)).toThrow(/four uint32 words/);
});

test('named sub-streams differ; same name and seed agree', () => {
  const x = Rng.seeded(5, 'github').nextU32();
  expect(Rng.seeded(5, 'github').nextU32()).toBe(x);
  expect(Rng.seeded(5, 'book').nextU32()).not.toBe(x);
});

test('nextInt stays in range and is roughly uniform; nextFloat in [0, 1)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer(), (n, seed) => {
      const r = Rng.seeded(seed);
      for (let i = 0; i < 50; i++) {
        const v = r.nextInt(n);
        expect(Number.isInteger(v) && v >= 0 && v < n).toBe(true);
        const f = r.nextFloat();
        expect(f >= 0 && f < 1).toBe(true);
      }
    }),
  );
  const r = Rng.seeded(3);
  const counts = new Array(5).fill(0);
  for (let i = 0; i < 20000; i++) counts[r.nextInt(5)]++;
  const chi2 = counts.reduce((s, c) => s + (c - 4000) ** 2 / 4000, 0);
  expect(chi2).toBeLessThan(18.47); // df 4, p = 0.001
});

test('categorical never picks a zero-weight index', () => {
  const r = Rng.seeded(1);
  for (let i = 0; i < 2000; i++) expect([1, 3]).toContain(r.categorical([0, 0.3, 0, 0.7, 0]));
  expect(() => r.categorical([0, 0])).toThrow(/all weights are zero/);
});
