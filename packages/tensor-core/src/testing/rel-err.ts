/**
 * Test-only (excluded from the build and the package): max |a − b| over max(|b|, 1e-3), the
 * agreement of a kernel with its oracle at f32 accuracy relative to the array's scale.
 */
export function relErr(a: Float32Array, b: Float32Array): number {
  let d = 0, s = 1e-3;
  for (let i = 0; i < a.length; i++) { d = Math.max(d, Math.abs(a[i]! - b[i]!)); s = Math.max(s, Math.abs(b[i]!)); }
  return d / s;
}
