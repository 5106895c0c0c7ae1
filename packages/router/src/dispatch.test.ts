import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { centralDiff, maxAbsDiff, randn64, shapeArb } from '../test/helpers.js';
import {
  RouterError,
  buildDispatch,
  combine,
  combineBackward,
  createRng,
  expertChoiceGate,
  gatherRows,
  gatherRowsBackward,
  moeForward,
  naiveMoeForward,
  noisyTopKGate,
  resolveScoreScale,
  scatterSlotGrads,
  tokenExpertCounts,
  type DispatchOptions,
  type ExpertFn,
} from './index.js';

/** Random distinct top-k selections with random scores: [T, k] each. */
function randomRouting(T: number, E: number, k: number, seed: number) {
  const rng = createRng(seed);
  const idx = new Int32Array(T * k);
  const scores = new Float64Array(T * k);
  const perm = Array.from({ length: E }, (_, i) => i);
  for (let t = 0; t < T; t++) {
    for (let i = E - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    for (let j = 0; j < k; j++) {
      idx[t * k + j] = perm[j];
      scores[t * k + j] = rng.uniform();
    }
  }
  return { idx, scores };
}

/** Row-wise experts: y = tanh(x · W_e) + b_e, a different random W_e per expert id. */
function makeExperts(nExperts: number, D: number, seed: number): { fn: ExpertFn; calls: number[] } {
  const W = Array.from({ length: nExperts }, (_, e) => randn64(D * D, seed + 31 * e, 1 / Math.sqrt(D)));
  const b = Array.from({ length: nExperts }, (_, e) => randn64(D, seed + 31 * e + 7));
  const calls: number[] = [];
  const fn: ExpertFn = (e, rows, n) => {
    calls.push(e);
    const y = rows instanceof Float64Array ? new Float64Array(n * D) : new Float32Array(n * D);
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < D; j++) {
        let s = 0;
        for (let i = 0; i < D; i++) s += rows[r * D + i] * W[e][i * D + j];
        y[r * D + j] = Math.tanh(s) + b[e][j];
      }
    }
    return y;
  };
  return { fn, calls };
}

const optionsArb = (T: number, seed: number): fc.Arbitrary<DispatchOptions & { score_scale_factor: number; multiply_gate_scores: boolean }> =>
  fc.record({
    capacity: fc.option(fc.integer({ min: 0, max: T + 1 }), { nil: undefined }),
    n_shared_experts: fc.integer({ min: 0, max: 2 }),
    sharedKind: fc.constantFrom('number', 'per-expert', 'per-token'),
    dropped_padding: fc.constantFrom('zero' as const, 'input' as const),
    score_scale_factor: fc.double({ min: 0.25, max: 8, noNaN: true }),
    multiply_gate_scores: fc.boolean(),
  }).map(({ sharedKind, ...o }) => {
    const Es = o.n_shared_experts;
    const shared_expert_weights =
      sharedKind === 'number' ? 0.75 : sharedKind === 'per-expert' ? randn64(Es, seed + 99) : randn64(T * Es, seed + 98);
    return { ...o, shared_expert_weights };
  });

describe('buildDispatch', () => {
  it('groups slots by expert in token order, never exceeds capacity, and drops later tokens first', () => {
    fc.assert(
      fc.property(
        shapeArb(25, 9).chain((s) => fc.tuple(fc.constant(s), optionsArb(s.T, s.seed))),
        ([{ T, E, k, seed }, opts]) => {
          const { idx, scores } = randomRouting(T, E, k, seed);
          const plan = buildDispatch(idx, scores, E, k, opts);
          const Es = opts.n_shared_experts ?? 0;
          const C = opts.capacity ?? Infinity;
          expect(plan.offsets[0]).toBe(0);
          for (let e = 0; e < E + Es; e++) expect(plan.offsets[e + 1] - plan.offsets[e]).toBe(plan.counts[e]);
          expect(plan.numSlots).toBe(plan.offsets[E + Es]);
          let kept = 0;
          for (let e = 0; e < E; e++) {
            expect(plan.counts[e]).toBeLessThanOrEqual(C);
            kept += plan.counts[e];
            // The kept tokens are exactly the first min(C, requested) tokens that chose e.
            const askers: number[] = [];
            for (let t = 0; t < T; t++) for (let j = 0; j < k; j++) if (idx[t * k + j] === e) askers.push(t);
            expect(plan.requested[e]).toBe(askers.length);
            const block = Array.from(plan.permutation.subarray(plan.offsets[e], plan.offsets[e + 1]));
            expect(block).toEqual(askers.slice(0, Math.min(C, askers.length)));
            expect(plan.droppedPerExpert[e]).toBe(askers.length - block.length);
            for (let s = plan.offsets[e]; s < plan.offsets[e + 1]; s++) {
              const sel = plan.slotSelection[s];
              expect(idx[sel]).toBe(e);
              expect(Math.floor(sel / k)).toBe(plan.permutation[s]);
              expect(plan.slotWeights[s]).toBe(scores[sel]);
              expect(plan.dropped[sel]).toBe(0);
            }
          }
          expect(kept).toBe(T * k - plan.numDropped);
          expect(plan.dropped.reduce((a, b) => a + b, 0)).toBe(plan.numDropped);
          for (let s = 0; s < Es; s++) {
            const block = Array.from(plan.permutation.subarray(plan.offsets[E + s], plan.offsets[E + s + 1]));
            expect(block).toEqual(Array.from({ length: T }, (_, t) => t));
          }
          const per = tokenExpertCounts(plan);
          expect(per.reduce((a, b) => a + b, 0)).toBe(kept);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('rejects out-of-range experts, bad capacities and mis-shaped shared weights', () => {
    const idx = new Int32Array([0, 3]);
    const sc = new Float32Array(2);
    expect(() => buildDispatch(idx, sc, 3, 1)).toThrow(/topkIndices\[1, 0\] = 3 is outside \[0, 3\)/);
    expect(() => buildDispatch(new Int32Array([0, 1]), sc, 3, 1, { capacity: -1 })).toThrow(RouterError);
    expect(() => buildDispatch(new Int32Array([0, 1]), sc, 3, 1, { n_shared_experts: 2, shared_expert_weights: new Float32Array(3) })).toThrow(/shared_expert_weights/);
    expect(() => buildDispatch(new Int32Array([0, 1, 2]), sc, 3, 2)).toThrow(/not a multiple of k=2/);
  });
});

describe('moeForward', () => {
  it('dispatch → experts → combine equals the naive per-token reference (float64 and float32)', () => {
    fc.assert(
      fc.property(
        shapeArb(17, 7).chain((s) => fc.tuple(fc.constant(s), optionsArb(s.T, s.seed), fc.integer({ min: 1, max: 6 }), fc.boolean())),
        ([{ T, E, k, seed }, opts, D, f32]) => {
          const { idx, scores } = randomRouting(T, E, k, seed);
          const x64 = randn64(T * D, seed + 1);
          const x = f32 ? new Float32Array(x64) : x64;
          const Es = opts.n_shared_experts ?? 0;
          const experts = makeExperts(E + Es, D, seed);
          const plan = buildDispatch(idx, scores, E, k, opts);
          const got = moeForward(x, plan, experts.fn, opts);
          // One call per expert that has rows, in expert order.
          const expectCalls = Array.from({ length: E + Es }, (_, e) => e).filter((e) => plan.counts[e] > 0);
          expect(experts.calls).toEqual(expectCalls);
          const ref = naiveMoeForward(x, idx, scores, E, k, makeExperts(E + Es, D, seed).fn, opts);
          expect(got.constructor).toBe(x.constructor);
          expect(maxAbsDiff(got, ref)).toBeLessThan(f32 ? 2e-5 * Math.max(1, opts.score_scale_factor) : 1e-12);
        },
      ),
      { numRuns: 120 },
    );
  });

  it('works on a real gate result and on expert-choice plans', () => {
    fc.assert(
      fc.property(shapeArb(12, 6), fc.integer({ min: 1, max: 5 }), ({ T, E, k, seed }, D) => {
        const logits = randn64(T * E, seed, 2);
        const gate = noisyTopKGate(logits, E, { num_selects: k });
        const x = randn64(T * D, seed + 1);
        const scale = resolveScoreScale(undefined, 0, E, k);
        const plan = buildDispatch(gate.topkIndices, gate.topkScores, E, k);
        const got = moeForward(x, plan, makeExperts(E, D, seed).fn, { score_scale_factor: scale });
        const ref = naiveMoeForward(x, gate.topkIndices, gate.topkScores, E, k, makeExperts(E, D, seed).fn, { score_scale_factor: scale });
        expect(maxAbsDiff(got, ref)).toBeLessThan(1e-12);

        const ec = expertChoiceGate(logits, E, { capacity_factor: 1.5, dropped_padding: 'input' });
        const f = makeExperts(E, D, seed).fn;
        const out = moeForward(x, ec.plan, makeExperts(E, D, seed).fn, { score_scale_factor: 2 });
        const want = new Float64Array(T * D);
        for (let e = 0; e < E; e++) {
          for (let c = 0; c < ec.capacity; c++) {
            const t = ec.tokenIndices[e * ec.capacity + c];
            const y = f(e, x.slice(t * D, (t + 1) * D), 1);
            for (let d = 0; d < D; d++) want[t * D + d] += 2 * ec.weights[e * ec.capacity + c] * y[d];
          }
        }
        for (let t = 0; t < T; t++) if (ec.expertsPerToken[t] === 0) for (let d = 0; d < D; d++) want[t * D + d] += x[t * D + d];
        expect(maxAbsDiff(out, want)).toBeLessThan(1e-12);
      }),
      { numRuns: 60 },
    );
  });

  it('rejects an expert that returns the wrong shape', () => {
    const plan = buildDispatch(new Int32Array([0, 1]), new Float32Array([1, 1]), 2, 1);
    expect(() => moeForward(new Float32Array(4), plan, () => new Float32Array(3))).toThrow(/expertFn\(0\) must return/);
  });
});

describe('combine / gather backward', () => {
  it('combineBackward matches finite differences for expert outputs and slot weights; gather is adjoint to its backward', () => {
    fc.assert(
      fc.property(
        shapeArb(9, 5).chain((s) => fc.tuple(fc.constant(s), optionsArb(s.T, s.seed), fc.integer({ min: 1, max: 4 }))),
        ([{ T, E, k, seed }, opts, D]) => {
          const { idx, scores } = randomRouting(T, E, k, seed);
          const plan = buildDispatch(idx, scores, E, k, opts);
          const S = plan.numSlots;
          const y = randn64(S * D, seed + 2);
          const G = randn64(T * D, seed + 3);
          const scale = opts.score_scale_factor;
          const copts = { multiply_gate_scores: opts.multiply_gate_scores };
          const L = () => combine(y, plan, new Float64Array(T * D), scale, copts).reduce((a, v, i) => a + v * G[i], 0);
          const back = combineBackward(G, y, plan, scale, copts);
          for (let i = 0; i < S * D; i++) expect(back.dExpertOut[i]).toBeCloseTo(centralDiff(() => L(), y, i, 1e-4), 7);
          const w = plan.slotWeights as Float64Array;
          for (let s = 0; s < S; s++) expect(back.dSlotWeights[s]).toBeCloseTo(centralDiff(() => L(), w, s, 1e-4), 7);
          // Slot gradients land on the [T, k] selections they came from; dropped ones get 0.
          const dSel = scatterSlotGrads(plan, back.dSlotWeights);
          for (let i = 0; i < T * k; i++) if (plan.dropped[i]) expect(dSel[i]).toBe(0);
          // <gather(x), R> = <x, gatherBackward(R)>
          const x = randn64(T * D, seed + 4);
          const R = randn64(S * D, seed + 5);
          const lhs = gatherRows(x, plan.permutation, D).reduce((a, v, i) => a + v * R[i], 0);
          const rhs = gatherRowsBackward(R, plan.permutation, T, D).reduce((a, v, i) => a + v * x[i], 0);
          expect(lhs).toBeCloseTo(rhs, 10);
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe('resolveScoreScale', () => {
  it('defaults to N/k, accepts a number or a per-layer list, and names bad input', () => {
    expect(resolveScoreScale(undefined, 3, 16, 4)).toBe(4);
    expect(resolveScoreScale(2.5, 3, 16, 4)).toBe(2.5);
    expect(resolveScoreScale([1, 2, 3], 2, 16, 4)).toBe(3);
    expect(() => resolveScoreScale([1, 2], 2, 16, 4)).toThrow(/lists 2 layers but layer 2/);
    expect(() => resolveScoreScale(Number.NaN, 0, 16, 4)).toThrow(RouterError);
  });
});
