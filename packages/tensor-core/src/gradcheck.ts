/**
 * Finite-difference gradient check, exported so every package can test its own ops and modules
 * the same way: L = Σ wᵢ·outᵢ for a fixed random w, analytic dL/dx from backward() against
 * central differences (L(x+h) − L(x−h)) / 2h at sampled coordinates. f32 forward passes make
 * differences noisy, so h is relative to |x| and the tolerance is mixed absolute/relative.
 */
import { noGrad } from './autograd.js';
import { createRng } from './random.js';
import { Tensor } from './tensor.js';

export interface GradCheckOptions {
  /** Step (default 1e-2 · max(1, |x|)); f32 needs a coarse step. */
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Coordinates sampled per input (default all up to 24). */
  samples?: number;
  seed?: number;
}

export interface GradCheckResult { ok: boolean; worst: { input: number; index: number; analytic: number; numeric: number } | null; message: string }

export function gradCheck(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradCheckOptions = {}): GradCheckResult {
  const rng = createRng(opts.seed ?? 1234);
  const atol = opts.atol ?? 2e-3;
  const rtol = opts.rtol ?? 2e-2;
  const params = inputs.map((t) => new Tensor(Float32Array.from(t.f32('gradCheck')), t.shape, { requiresGrad: true }));
  const out0 = fn(...params);
  const w = new Float32Array(out0.size);
  for (let i = 0; i < w.length; i++) w[i] = rng.normal();
  const objective = (o: Tensor): number => {
    let s = 0;
    const d = o.f32('gradCheck');
    for (let i = 0; i < d.length; i++) s += w[i]! * d[i]!;
    return s;
  };
  out0.backward(w);
  let worst: GradCheckResult['worst'] = null;
  let worstExcess = -Infinity;
  for (let p = 0; p < params.length; p++) {
    const x = params[p]!;
    const data = x.f32();
    const analytic = x.grad ? (x.grad.data as Float32Array) : new Float32Array(x.size);
    const n = x.size;
    const want = Math.min(n, opts.samples ?? 24);
    const picks = want === n ? [...Array(n).keys()] : Array.from({ length: want }, () => rng.int(n));
    for (const i of picks) {
      const orig = data[i]!;
      const h = (opts.eps ?? 1e-2) * Math.max(1, Math.abs(orig));
      const plusX = Math.fround(orig + h);
      const minusX = Math.fround(orig - h);
      const lp = noGrad(() => { data[i] = plusX; return objective(fn(...params)); });
      const lm = noGrad(() => { data[i] = minusX; return objective(fn(...params)); });
      data[i] = orig;
      const numeric = (lp - lm) / (plusX - minusX);
      const a = analytic[i]!;
      const excess = Math.abs(a - numeric) - (atol + rtol * Math.max(Math.abs(a), Math.abs(numeric)));
      if (excess > worstExcess || Number.isNaN(excess)) {
        worstExcess = Number.isNaN(excess) ? Infinity : excess;
        worst = { input: p, index: i, analytic: a, numeric };
      }
    }
  }
  const ok = worstExcess <= 0;
  const message = worst ? `input ${worst.input}[${worst.index}]: analytic ${worst.analytic} vs numeric ${worst.numeric}` : 'no coordinates checked';
  return { ok, worst, message };
}
