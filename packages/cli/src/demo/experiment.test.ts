import { describe, expect, it } from 'vitest';
import { variantName } from './experiment.js';

describe('variantName', () => {
  it('keeps the paper\'s k/E name for a method\'s own router, and names any other init and --recalibrate', () => {
    expect(variantName({ method: 'random', experts: 8, topK: 2 })).toBe('random-2of8');
    expect(variantName({ method: 'random', experts: 8, topK: 2, gateInit: 'random' })).toBe('random-2of8');
    expect(variantName({ method: 'carve', experts: 8, topK: 2, gateInit: 'ridge' })).toBe('carve-2of8');
    expect(variantName({ method: 'random', experts: 8, topK: 2, gateInit: 'ridge' })).toBe('random-ridge-2of8');
    expect(variantName({ method: 'carve', experts: 16, topK: 4, gateInit: 'kmeans' })).toBe('carve-kmeans-4of16');
    expect(variantName({ method: 'carve', experts: 8, topK: 2, recalibrate: true })).toBe('carve+recal-2of8');
  });
});
