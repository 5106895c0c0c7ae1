/**
 * Calibration statistics for the data-driven constructions: a forward (and, for gradient
 * importance, backward) pass of the dense model over calibration tokens, with every FFN wrapped
 * so its input x [N, D], its intermediate activation h = silu(gate(x)) ⊙ up(x) [N, F] and
 * ∂L/∂h [N, F] reach a sink layer by layer. Nothing is retained beyond what the sink keeps.
 */
import { Tensor, linear, noGrad, reshape, swiglu } from '@llama-moe/tensor-core';
import { DenseFeedForward, causalLmLoss, type FeedForward, type ForwardContext, type LlamaForCausalLM } from '@llama-moe/llama-model';

export interface CalibrationSink {
  /** x [N, D] FFN input; h [N, F] activation; `batch` indexes the calibration batch. */
  onActivation?(layer: number, x: Float32Array, h: Float32Array, N: number, batch: number): void;
  /** dh [N, F] gradient of the LM loss w.r.t. h (only when gradients are requested). */
  onGradient?(layer: number, h: Float32Array, dh: Float32Array, N: number, batch: number): void;
}


class RecordingFeedForward implements FeedForward {
  readonly prefix = 'mlp';
  batch = 0;
  /** h of the current batch as a leaf that requires grad, so backward leaves ∂L/∂h in its .grad. */
  leaf: Tensor | null = null;
  constructor(readonly inner: DenseFeedForward, readonly layer: number, readonly sink: CalibrationSink, readonly wantGrad: boolean) {}
  namedParameters() { return this.inner.namedParameters(); }
  forward(x: Tensor, _ctx: ForwardContext): Tensor {
    const f = this.inner;
    let h = swiglu(linear(x, f.gate, f.biases?.gate), linear(x, f.up, f.biases?.up));
    const N = x.shape[0]!;
    const hd = h.f32();
    this.sink.onActivation?.(this.layer, x.f32(), hd, N, this.batch);
    if (this.wantGrad) {
      // Cut the graph at h: everything downstream (later layers, the loss) still depends on it.
      h = new Tensor(hd, h.shape, { requiresGrad: true });
      this.leaf = h;
    }
    return linear(h, f.down, f.biases?.down);
  }
}

export interface CalibrateOptions {
  /** Run backward through the LM loss to get ∂L/∂h (gradient importance). */
  gradients?: boolean;
}

/**
 * Run the calibration batches [B, T] (int32 ids) through the model with FFN recording. The model's
 * FFNs are restored afterwards (also on error).
 */
export function calibrate(model: LlamaForCausalLM, batches: Int32Array[], seqLen: number, sink: CalibrationSink, opts: CalibrateOptions = {}): void {
  const layers = model.weights.layers;
  const saved = layers.map((L) => L.mlp);
  const rec = saved.map((m, l) => {
    if (!(m instanceof DenseFeedForward)) throw new RangeError(`calibration needs a dense model: layer ${l} is not a dense FFN`);
    return new RecordingFeedForward(m, l, sink, !!opts.gradients);
  });
  const wasTrainable = model.parameters().map((p) => p.requiresGrad);
  // Only ∂L/∂h is wanted: parameters need no gradients during calibration.
  for (const p of model.parameters()) p.requiresGrad = false;
  try {
    layers.forEach((L, l) => { L.mlp = rec[l]!; });
    batches.forEach((ids, b) => {
      for (const r of rec) r.batch = b;
      const B = ids.length / seqLen;
      const idT = new Tensor(ids, [B, seqLen]);
      if (opts.gradients) {
        const out = model.forward(idT, { training: false });
        causalLmLoss(out.logits, idT).backward();
        for (const r of rec) {
          const leaf = r.leaf!;
          const N = leaf.shape[0]!;
          sink.onGradient?.(r.layer, leaf.f32(), leaf.grad ? leaf.grad.f32() : new Float32Array(leaf.size), N, b);
          r.leaf = null;
        }
      } else {
        noGrad(() => model.forward(reshape(idT, [B, seqLen])));
      }
    });
  } finally {
    layers.forEach((L, l) => { L.mlp = saved[l]!; });
    model.parameters().forEach((p, i) => { p.requiresGrad = wasTrainable[i]!; p.grad = null; });
  }
}

/**
 * Per-expert centroids of FFN inputs, weighted by how strongly each token activates the expert's
 * neurons: c_e = Σ_t a_te x_t / Σ_t a_te with a_te = Σ_{i ∈ S_e} |h_ti|. Used to initialise gate
 * rows ('centroids'), so a token is first routed to the experts whose neurons it excites.
 */
export class CentroidAccumulator {
  /** [E, D] */ readonly sums: Float64Array;
  /** [E] */ readonly weights: Float64Array;
  constructor(readonly D: number, readonly parts: ArrayLike<number>[]) {
    this.sums = new Float64Array(parts.length * D);
    this.weights = new Float64Array(parts.length);
  }
  add(x: Float32Array, h: Float32Array, N: number): void {
    const F = h.length / N, D = this.D;
    this.parts.forEach((p, e) => {
      for (let t = 0; t < N; t++) {
        let a = 0;
        for (let i = 0; i < p.length; i++) a += Math.abs(h[t * F + p[i]!]!);
        this.weights[e]! += a;
        for (let d = 0; d < D; d++) this.sums[e * D + d]! += a * x[t * D + d]!;
      }
    });
  }
  /** [E, D] unit-norm centroids scaled to `norm` (gate rows of comparable size to N(0, 0.02) rows). */
  centroids(norm: number): Float32Array {
    const E = this.parts.length, D = this.D;
    const out = new Float32Array(E * D);
    for (let e = 0; e < E; e++) {
      let ss = 0;
      for (let d = 0; d < D; d++) { const v = this.sums[e * D + d]! / Math.max(this.weights[e]!, 1e-30); out[e * D + d] = v; ss += v * v; }
      const s = ss > 0 ? norm / Math.sqrt(ss) : 0;
      for (let d = 0; d < D; d++) out[e * D + d]! *= s;
    }
    return out;
  }
}
