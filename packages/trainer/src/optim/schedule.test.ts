import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { lrAt, type ScheduleConfig } from './schedule.js';

const paper: ScheduleConfig = { lr: 2e-4, min_lr_ratio: 0.1, warmup_steps: 100, max_steps: 1100, lr_scheduler: 'cosine' };

describe('lrAt', () => {
  it('LLaMA-MoE cosine: linear warm-up from 0, peak at the warm-up end, half-way value mid-decay, 10 % floor at the end', () => {
    expect(lrAt(0, paper)).toBe(0);
    expect(lrAt(50, paper)).toBeCloseTo(1e-4, 15);
    expect(lrAt(99, paper)).toBeCloseTo(1.98e-4, 15);
    expect(lrAt(100, paper)).toBeCloseTo(2e-4, 15);
    expect(lrAt(600, paper)).toBeCloseTo(2e-4 * (0.1 + 0.9 * 0.5), 15);
    expect(lrAt(1100, paper)).toBeCloseTo(2e-5, 15);
    expect(lrAt(5000, paper)).toBeCloseTo(2e-5, 15);
    // Quarter of the decay: ½(1 + cos(π/4)).
    expect(lrAt(350, paper)).toBeCloseTo(2e-4 * (0.1 + 0.9 * 0.5 * (1 + Math.SQRT1_2)), 15);
  });

  it('linear and constant schedules', () => {
    const lin = { ...paper, lr_scheduler: 'linear' as const };
    expect(lrAt(100, lin)).toBeCloseTo(2e-4, 15);
    expect(lrAt(600, lin)).toBeCloseTo(2e-4 * 0.55, 15);
    expect(lrAt(1100, lin)).toBeCloseTo(2e-5, 15);
    const con = { ...paper, lr_scheduler: 'constant' as const };
    expect(lrAt(50, con)).toBeCloseTo(1e-4, 15);
    expect(lrAt(1000, con)).toBe(2e-4);
    expect(lrAt(3, { ...con, warmup_steps: 0 })).toBe(2e-4);
  });

  it('property: warm-up increases, decay never increases, values stay in [0, peak] and reach the floor', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 50 }), fc.integer({ min: 1, max: 300 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom('cosine' as const, 'linear' as const),
      (W, extra, r, kind) => {
        const c: ScheduleConfig = { lr: 1e-3, min_lr_ratio: r, warmup_steps: W, max_steps: W + extra, lr_scheduler: kind };
        let prev = -1;
        for (let i = 0; i <= W; i++) { const v = lrAt(i, c); expect(v).toBeGreaterThan(prev); prev = v; }
        for (let i = W + 1; i <= W + extra; i++) { const v = lrAt(i, c); expect(v).toBeLessThanOrEqual(prev + 1e-18); expect(v).toBeGreaterThanOrEqual(r * 1e-3 - 1e-15); prev = v; }
        expect(lrAt(W + extra, c)).toBeCloseTo(r * 1e-3, 12);
      },
    ), { numRuns: 60 });
  });
});
