import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { erf } from './elementwise.js';

describe('erf', () => {
  const xs = [-7, -5, -3.2, -3, -2.999, -1.5, -1.0472, -0.7, -0.3, 0, 1e-8, 0.3, 0.5, 0.7, 1, 1.0472, 2, 2.5, 2.99, 3, 3.01, 3.9, 4.5, 5.9, 6.1];
  it('matches known values', () => {
    expect(erf(0)).toBe(0);
    expect(erf(1)).toBeCloseTo(0.8427007929497149, 14);
    expect(erf(-0.5)).toBeCloseTo(-0.5204998778130465, 14);
    expect(erf(2)).toBeCloseTo(0.9953222650189527, 14);
    expect(erf(3.5)).toBeCloseTo(0.9999992569016276, 14);
  });
  it.runIf(hasPython())('matches Python math.erf to 1e-13 across both branches', () => {
    const ref = JSON.parse(execFileSync('python3', ['-c', `import math,json;print(json.dumps([math.erf(x) for x in ${JSON.stringify(xs)}]))`]).toString()) as number[];
    xs.forEach((x, i) => expect(Math.abs(erf(x) - ref[i]!), `erf(${x})`).toBeLessThan(1e-13));
  });
});

function hasPython(): boolean {
  try { execFileSync('python3', ['-c', 'import math']); return true; } catch { return false; }
}
