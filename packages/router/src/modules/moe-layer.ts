/**
 * The MoE layer (the `@llama-moe/router/modules` entry point): the feed-forward block that replaces LlamaMLP: a gate picks k experts per token, tokens
 * are grouped per expert (router's dispatch plan: counts, offsets, permutation) so each expert
 * runs as one contiguous SwiGLU GEMM chain (tensor-core's fused swigluMlp), and the weighted results are scattered back.
 * Shared (always-on) experts run densely on every token. One module serves both checkpoint
 * layouts; only the parameter names differ:
 *   llama-moe: mlp.gate.…, mlp.calculator.experts.weight_{gate,up,down}.J
 *   mixtral:   block_sparse_moe.gate.weight, block_sparse_moe.experts.J.{w1,w3,w2}.weight
 */
import {
  Tensor, add, gradBuffer, indexAdd, indexSelect, indices, isPinned, narrowRows, needsGrad, record, reshape, runKernel, swigluExperts, swigluMlp, createRng, type Rng, type RngState,
} from '@llama-moe/tensor-core';
// llama-model's FFN-slot contract, types only: nothing of llama-model is loaded at run time.
import type { FeedForward, ForwardContext, RoutingRecord } from '@llama-moe/llama-model';
import { buildDispatch, expertCapacity, type DroppedPadding } from '../dispatch.js';
import { meanTokenEntropy } from '../stats.js';
import type { GateModule } from './gate-modules.js';

/** One SwiGLU expert: down(silu(x·gateᵀ) ⊙ (x·upᵀ)). */
export interface ExpertWeights {
  /** [s, D] */ gate: Tensor;
  /** [s, D] */ up: Tensor;
  /** [D, s] */ down: Tensor;
}

export type MoeLayout = 'llama-moe' | 'mixtral';
export type CalculatorType = 'UniversalCalculator' | 'SwitchDropTokenCalculator';

export interface MoeFfnOptions {
  layout: MoeLayout;
  /** Expert outputs are combined as Σ score · scoreScale · expert(x). */
  scoreScale: number;
  multiplyGateScores: boolean;
  calculator: CalculatorType;
  /** SwitchDropTokenCalculator: drop tokens over capacity_factor·T/E (training and eval, as the reference). */
  dropTokens: boolean;
  capacityFactor: number;
  droppedPadding: DroppedPadding;
  /**
   * Decode on pinned weights runs a token's experts in one `swigluExperts` call (see decodeStep);
   * false keeps the per-expert path everywhere (for comparison: tools/bench/profile.mjs).
   */
  groupedDecode: boolean;
}

export const DEFAULT_MOE_OPTIONS: MoeFfnOptions = {
  layout: 'llama-moe', scoreScale: 1, multiplyGateScores: true, calculator: 'UniversalCalculator', dropTokens: true, capacityFactor: 1.25, droppedPadding: 'zero',
  groupedDecode: true,
};

/**
 * out[perm[s]] += scale · w[s] · y[s] for every slot s, where y is the row-concatenation of the
 * experts' outputs (one tensor per expert, in slot order): the combine step fused into one pass
 * with no concatenated [S, D] copy. w = null means unit weights. Backward: dy[s] = scale·w[s]·g[perm[s]],
 * dw[s] = scale·⟨g[perm[s]], y[s]⟩.
 */
export function combineExperts(ys: Tensor[], w: Tensor | null, perm: Int32Array, T: number, scale: number): Tensor {
  const D = ys[0]!.shape[1]!;
  // zeroed (the kernel adds into it), from the pool a releasing backward refills
  const out = gradBuffer(T * D, true);
  const wd = w ? w.f32() : null;
  // one kernel call over every expert's rows (SIMD on the wasm backend)
  runKernel('scatterAddRows', { src: ys.map((y) => y.f32()), index: perm, coef: wd, alpha: scale, out, cols: D });
  const inputs = w ? [...ys, w] : ys;
  return record(new Tensor(out, [T, D]), 'combineExperts', inputs, (g) => {
    const dys = ys.map((y) => (y.requiresGrad ? gradBuffer(y.size) : null)); // overwritten by the kernel
    const dw = wd ? new Float32Array(wd.length) : null;
    runKernel('scatterAddRowsBackward', { g, src: ys.map((y) => y.f32()), index: perm, coef: wd, alpha: scale, dsrc: dys, dcoef: dw, cols: D });
    const grads: (Float32Array | null)[] = [...dys];
    if (w) grads.push(dw);
    return grads;
  });
}

/** One expert over its rows: tensor-core's fused swigluMlp (six matmul calls forward + backward, not nine). */
export function expertForward(e: ExpertWeights, x: Tensor): Tensor {
  return swigluMlp(x, e.gate, e.up, e.down);
}

/**
 * Per-layer routing record pushed into ForwardContext.records when collectStats is on (llama-model's
 * contract); it fits `RoutingStatsAccumulator.add` of @llama-moe/router, which sums records per layer and domain.
 */
export type MoeLayerRecord = RoutingRecord;

/**
 * Where a layer's experts came from, when it was built from a dense FFN: written to
 * llama_moe_partition.json so that merge-experts can put every neuron back at its id.
 */
export interface ExpertOrigin {
  /** The construction method (random, clustering, carve, upcycle, ...). */
  method: string;
  /** Dense neuron ids of each routed expert; null for copies (upcycle, drop-upcycle). */
  experts: number[][] | null;
  /** Dense neuron ids of each shared expert (sharing-inter, carve); null when it has none. */
  shared: number[][] | null;
  /** score_scale_factor folded into the experts' down weights (Mixtral layout), else null. */
  foldedScale: number | null;
}

export class MoeFeedForward implements FeedForward {
  readonly prefix: string;
  readonly opts: MoeFfnOptions;
  /** Set by the construction from a dense model (and by loading a folder with a partition file). */
  origin: ExpertOrigin | null = null;
  /** Gate-noise RNG, seeded; its state is part of a training checkpoint. */
  rng: Rng;

  constructor(
    public gate: GateModule,
    public experts: ExpertWeights[],
    opts: Partial<MoeFfnOptions> = {},
    public shared: ExpertWeights[] = [],
    seed = 0,
  ) {
    this.opts = { ...DEFAULT_MOE_OPTIONS, ...opts };
    this.prefix = this.opts.layout === 'mixtral' ? 'block_sparse_moe' : 'mlp';
    if (experts.length !== gate.numExperts) throw new RangeError(`MoE layer: gate routes to ${gate.numExperts} experts but ${experts.length} are given`);
    if (this.opts.layout === 'mixtral' && shared.length) throw new RangeError('MoE layer: the Mixtral layout has no shared experts');
    this.rng = createRng(seed);
  }

  randomState(): RngState {
    return this.rng.state();
  }
  setRandomState(state: RngState): void {
    this.rng.setState(state);
  }

  get numExperts(): number {
    return this.experts.length;
  }
  get topK(): number {
    return this.gate.topK;
  }
  /** Intermediate size of each expert. */
  get sizes(): number[] {
    return this.experts.map((e) => e.gate.shape[0]!);
  }

  /**
   * Per token: the gate network (and its noise network when noise is on), k routed experts of mean size (the
   * expectation over routings when sizes differ) and every shared expert.
   */
  activeParamsPerToken(): number {
    const size = (e: ExpertWeights) => e.gate.size + e.up.size + e.down.size;
    const gate = this.gate.activeParamsPerToken?.() ?? this.gate.namedParameters().reduce((s, [, t]) => s + t.size, 0);
    const routed = this.experts.reduce((s, e) => s + size(e), 0) * (this.topK / this.numExperts);
    return gate + routed + this.shared.reduce((s, e) => s + size(e), 0);
  }

  /** Every expert's and shared expert's gate, up and down: a decode step reads them through `swigluExperts` (see decodeStep). */
  groupedWeights(): Tensor[] {
    return [...this.experts, ...this.shared].flatMap((e) => [e.gate, e.up, e.down]);
  }

  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.gate.namedParameters()];
    if (this.opts.layout === 'mixtral') {
      this.experts.forEach((e, j) => out.push([`experts.${j}.w1.weight`, e.gate], [`experts.${j}.w2.weight`, e.down], [`experts.${j}.w3.weight`, e.up]));
    } else {
      this.experts.forEach((e, j) => out.push([`calculator.experts.weight_gate.${j}`, e.gate]));
      this.experts.forEach((e, j) => out.push([`calculator.experts.weight_up.${j}`, e.up]));
      this.experts.forEach((e, j) => out.push([`calculator.experts.weight_down.${j}`, e.down]));
      this.shared.forEach((e, j) => out.push([`shared_experts.${j}.gate_proj.weight`, e.gate], [`shared_experts.${j}.up_proj.weight`, e.up], [`shared_experts.${j}.down_proj.weight`, e.down]));
    }
    return out;
  }

  /**
   * Decode (one token, no graph to record, every weight it needs pinned: `model.pinWeights()`):
   * the token's k routed experts and the shared ones in one `swigluExperts` kernel call, which
   * reads them in place in the weight arena, instead of a dispatch plan, a gather, three products
   * per expert and a scatter-add. Null where it does not apply (the general path runs).
   * x [1, D], topk [k], scores [k] → [1, D]
   */
  private decodeStep(x: Tensor, topk: Int32Array, scores: Tensor): Tensor | null {
    const experts: ExpertWeights[] = [];
    for (const j of topk) experts.push(this.experts[j]!);
    experts.push(...this.shared);
    if (needsGrad(x, scores, ...experts.flatMap((e) => [e.gate, e.up, e.down]))) return null;
    if (!experts.every((e) => isPinned(e.gate) && isPinned(e.up) && isPinned(e.down))) return null;
    const k = topk.length;
    const w = scores.f32();
    const coef = new Float64Array(experts.length).fill(1);
    for (let i = 0; i < k; i++) coef[i] = this.opts.scoreScale * (this.opts.multiplyGateScores ? w[i]! : 1);
    return swigluExperts(x, experts, coef);
  }

  /** x [T, D] → [T, D] */
  forward(x: Tensor, ctx: ForwardContext): Tensor {
    const T = x.shape[0]!;
    const E = this.numExperts;
    const k = this.topK;
    const g = this.gate.forward(x, { training: ctx.training, rng: this.rng });
    const switchDrop = this.opts.calculator === 'SwitchDropTokenCalculator' && this.opts.dropTokens;
    const capacity = switchDrop ? expertCapacity(this.opts.capacityFactor, T, E) : undefined;
    if (T === 1 && this.opts.groupedDecode && !switchDrop && !g.plan && !ctx.collectStats) {
      const y = this.decodeStep(x, g.topkIndices, g.scores);
      if (y) {
        if (g.auxLoss && ctx.training) ctx.auxLosses.push(g.auxLoss);
        return y;
      }
    }
    // Expert-choice gates bring their own plan (each expert picked its tokens); token-choice gates are dispatched here.
    const plan = g.plan ?? buildDispatch(g.topkIndices, g.scores.f32(), E, k, { capacity, dropped_padding: this.opts.droppedPadding });
    const routed = plan.routedSlots;
    /** [S] token of each routed slot, grouped by expert */
    const perm = plan.permutation.subarray(0, routed);
    const ys: Tensor[] = [];
    /** [S, D] every routed slot's token, grouped by expert: one gather (and one scatter-add back) */
    const xs = routed > 0 ? indexSelect(x, indices(perm)) : null;
    for (let e = 0; e < E; e++) {
      const a = plan.offsets[e]!, b = plan.offsets[e + 1]!;
      if (b === a) continue;
      // One contiguous GEMM chain per expert over its rows of xs (a view, no copy).
      ys.push(expertForward(this.experts[e]!, narrowRows(xs!, a, b)));
    }
    let out: Tensor;
    if (ys.length === 0) {
      out = new Tensor(new Float32Array(x.size), x.shape);
    } else {
      /** [S] score of each routed slot (differentiable, picked from the gate's [T·k] scores) */
      const w = this.opts.multiplyGateScores ? reshape(indexSelect(reshape(g.scores, [g.scores.size, 1]), indices(plan.slotSelection.subarray(0, routed))), [routed]) : null;
      out = combineExperts(ys, w, perm, T, this.opts.scoreScale);
    }
    if (switchDrop && this.opts.droppedPadding === 'input' && plan.numDropped > 0) {
      // Tokens no expert processed pass through unchanged (reference: y[dropped] = x[dropped]).
      const served = new Uint8Array(T);
      for (const t of perm) served[t] = 1;
      const passIdx: number[] = [];
      for (let t = 0; t < T; t++) if (!served[t]) passIdx.push(t);
      if (passIdx.length) out = add(out, indexAdd(T, indices(passIdx), indexSelect(x, indices(passIdx))));
    }
    for (const s of this.shared) out = add(out, expertForward(s, x));
    if (g.auxLoss && ctx.training) ctx.auxLosses.push(g.auxLoss);
    if (ctx.collectStats) {
      const rec: MoeLayerRecord = {
        layer: ctx.layer, load: Array.from(plan.counts.subarray(0, E)), importance: Array.from(g.importance), topkIndices: Array.from(g.topkIndices),
        dropped: plan.numDropped + (g.unrouted ?? 0), tokenEntropy: meanTokenEntropy(g.probs, T, E), numTokens: T,
      };
      ctx.records.push(rec);
    }
    return out;
  }
}
