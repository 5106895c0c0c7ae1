/**
 * swigluMlp: down(silu(x·gateᵀ) ⊙ (x·upᵀ)), the LLaMA FFN (and one MoE expert) as one op, forward
 * and backward in six matmul kernel calls instead of the nine of linear → swiglu → linear:
 *
 *   forward   GUᵀ = [gate; up] · xᵀ          [2s, M]   one product for both projections
 *             Hᵀ  = swiglu(Gᵀ, Uᵀ)           [s, M]    (the two halves of GUᵀ, contiguous)
 *             y   = (Hᵀ)ᵀ · downᵀ             [M, D]
 *   backward  dHᵀ = downᵀ · dyᵀ, d down = dyᵀ · H, (dGᵀ, dUᵀ) = swigluBackward,
 *             dx  = (dGUᵀ)ᵀ · [gate; up]       one product (K = 2s): no second GEMM accumulated into dx
 *             d[gate; up] = dGUᵀ · x           one product, split into the two weights' gradients
 *
 * On small shapes (an MoE expert: tens of rows, s = 32…64) a matmul kernel call costs more in
 * dispatch than in arithmetic, so fewer and wider products are faster; the results differ from
 * the three-op chain only by float32 rounding (the products' summation order). [gate; up] is
 * stacked into one scratch buffer per call (2·s·D floats), forward and again in the backward;
 * without a graph to record (inference) the forward runs the two products from the weights.
 */
import { gradBuffer, needsGrad, recycleGradBuffers, record } from '../autograd.js';
import { ShapeError, fmtShape } from '../errors.js';
import { runKernel } from '../registry.js';
import { Tensor, assertFloat } from '../tensor.js';

/** Grow-only scratch for the stacked [gate; up] weight and its gradient (the op runs synchronously). */
let stack = new Float32Array(0);
let dStack = new Float32Array(0);

function stacked(gate: Float32Array, up: Float32Array): Float32Array {
  const n = gate.length + up.length;
  if (stack.length < n) stack = new Float32Array(n);
  const w = stack.subarray(0, n);
  w.set(gate, 0);
  w.set(up, gate.length);
  return w;
}

/** x [M, D], gate [s, D], up [s, D], down [D, s] → [M, D]. */
export function swigluMlp(x: Tensor, gate: Tensor, up: Tensor, down: Tensor): Tensor {
  assertFloat('swigluMlp', x, gate, up, down);
  const [M, D] = x.shape as [number, number];
  const s = gate.shape[0]!;
  if (x.rank !== 2 || gate.rank !== 2 || up.rank !== 2 || down.rank !== 2 || gate.shape[1] !== D || up.shape[0] !== s || up.shape[1] !== D || down.shape[0] !== D || down.shape[1] !== s) {
    throw new ShapeError('swigluMlp', `expected x [M, D], gate and up [s, D], down [D, s]; got ${fmtShape(x.shape)}, ${fmtShape(gate.shape)}, ${fmtShape(up.shape)}, ${fmtShape(down.shape)}`);
  }
  const xd = x.f32(), wd = down.f32();
  const y = gradBuffer(M * D);
  if (M === 0 || s === 0) {
    y.fill(0);
    return record(new Tensor(y, [M, D]), 'swigluMlp', [x, gate, up, down], (_g, _into, slot) => {
      for (let j = 0; j < 4; j++) {
        const inp = [x, gate, up, down][j]!;
        if (!inp.requiresGrad) continue;
        const sl = slot(j);
        if (sl.empty) sl.data.fill(0);
      }
      return [null, null, null, null];
    });
  }
  const sM = s * M;
  /** [2s, M]: Gᵀ then Uᵀ */
  const gu = gradBuffer(2 * sM);
  if (needsGrad(x, gate, up, down)) {
    runKernel('matmul', { a: stacked(gate.f32(), up.f32()), b: xd, out: gu, batch: 1, m: 2 * s, n: M, k: D, transA: false, transB: true, aStride: 0, bStride: 0, accumulate: false });
  } else {
    // inference (decode: M = 1): two products straight from the weights, no stacked copy (which
    // would read and write both weights once more per token, as much again as the products read)
    runKernel('matmul', { a: gate.f32(), b: xd, out: gu.subarray(0, sM), batch: 1, m: s, n: M, k: D, transA: false, transB: true, aStride: 0, bStride: 0, accumulate: false });
    runKernel('matmul', { a: up.f32(), b: xd, out: gu.subarray(sM), batch: 1, m: s, n: M, k: D, transA: false, transB: true, aStride: 0, bStride: 0, accumulate: false });
  }
  /** [s, M] */
  const h = gradBuffer(sM);
  runKernel('swiglu', { gate: gu.subarray(0, sM), up: gu.subarray(sM), out: h });
  runKernel('matmul', { a: h, b: wd, out: y, batch: 1, m: M, n: D, k: s, transA: true, transB: true, aStride: 0, bStride: 0, accumulate: false });
  const out = record(new Tensor(y, [M, D]), 'swigluMlp', [x, gate, up, down], (g, _into, slot) => {
    if (down.requiresGrad) {
      // d down [D, s] = dyᵀ · H = dyᵀ · (Hᵀ)ᵀ
      const { data, empty } = slot(3);
      runKernel('matmul', { a: g, b: h, out: data, batch: 1, m: D, n: s, k: M, transA: true, transB: true, aStride: 0, bStride: 0, accumulate: !empty });
    }
    if (x.requiresGrad || gate.requiresGrad || up.requiresGrad) {
      // dHᵀ [s, M] = downᵀ · dyᵀ
      const dh = gradBuffer(sM);
      runKernel('matmul', { a: wd, b: g, out: dh, batch: 1, m: s, n: M, k: D, transA: true, transB: true, aStride: 0, bStride: 0, accumulate: false });
      const dgu = gradBuffer(2 * sM);
      runKernel('swigluBackward', { gate: gu.subarray(0, sM), up: gu.subarray(sM), g: dh, dGate: dgu.subarray(0, sM), dUp: dgu.subarray(sM) });
      if (x.requiresGrad) {
        // dx [M, D] = (dGUᵀ)ᵀ · [gate; up]
        const { data, empty } = slot(0);
        runKernel('matmul', { a: dgu, b: stacked(gate.f32(), up.f32()), out: data, batch: 1, m: M, n: D, k: 2 * s, transA: true, transB: false, aStride: 0, bStride: 0, accumulate: !empty });
      }
      if (gate.requiresGrad || up.requiresGrad) {
        // d[gate; up] [2s, D] = dGUᵀ · x, then each half into its weight's gradient
        const n = 2 * s * D;
        if (dStack.length < n) dStack = new Float32Array(n);
        const dw = dStack.subarray(0, n);
        runKernel('matmul', { a: dgu, b: xd, out: dw, batch: 1, m: 2 * s, n: D, k: M, transA: false, transB: false, aStride: 0, bStride: 0, accumulate: false });
        const half = s * D;
        for (const [j, w, part] of [[1, gate, dw.subarray(0, half)], [2, up, dw.subarray(half)]] as const) {
          if (!w.requiresGrad) continue;
          const { data, empty } = slot(j);
          if (empty) data.set(part);
          else runKernel('binary', { op: 'add', a: data, b: part, out: data });
        }
      }
      recycleGradBuffers(dh, dgu);
    }
    recycleGradBuffers(gu, h);
    return [null, null, null, null];
  });
  // no graph recorded (inference, noGrad): the intermediates are dead now
  if (!out.requiresGrad) recycleGradBuffers(gu, h);
  return out;
}
