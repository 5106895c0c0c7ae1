/**
 * The FFN slot of a decoder layer. A dense LLaMA uses `DenseFeedForward` (SwiGLU); an MoE model
 * plugs its own module (expert-partition's MoE layers) into the same slot, so one model class
 * serves LLaMA, LLaMA-MoE and Mixtral.
 */
import { linear, swiglu, type RngState, type Tensor } from '@llama-moe/tensor-core';

/** One MoE layer's routing in one forward pass (appended to ForwardContext.records when collectStats). */
export interface RoutingRecord {
  /** Layer index. */
  layer: number;
  /** [E] tokens each expert processed (after capacity). */
  load: number[];
  /** [E] Σ of each expert's combine weights. */
  importance: number[];
  /** [T, k] chosen experts (empty for expert-choice routing). */
  topkIndices: number[];
  /** Tokens no expert processed (capacity overflow, or chosen by no expert). */
  dropped: number;
  /** Mean per-token entropy of the routing probabilities (nats). */
  tokenEntropy: number;
  /** Tokens routed. */
  numTokens: number;
}

/** Per-forward state shared by every layer (auxiliary losses, routing statistics, RNG for gate noise). */
export interface ForwardContext {
  /** Training mode: gates add noise, dropout-free otherwise identical. */
  training: boolean;
  /** Auxiliary (balance) losses appended by MoE layers; summed into the training loss. */
  auxLosses: Tensor[];
  /** Layer index currently running. */
  layer: number;
  /** Routing records appended by MoE layers when collectStats. */
  records: RoutingRecord[];
  /** Collect routing statistics when true. */
  collectStats: boolean;
}

export interface FeedForward {
  /** x [N, D] → [N, D] */
  forward(x: Tensor, ctx: ForwardContext): Tensor;
  /** Parameters under their Hugging Face names, relative to the layer's `mlp` (or `block_sparse_moe`) prefix. */
  namedParameters(): [string, Tensor][];
  /** Prefix inside the layer: `mlp` (LLaMA, LLaMA-MoE) or `block_sparse_moe` (Mixtral). */
  readonly prefix: string;
  /**
   * Weights one token is multiplied by in a training forward pass (an MoE counts its gate, its k
   * routed experts and its shared experts, not all E): what model-FLOPs counts use. Without it,
   * every parameter of the module counts.
   */
  activeParamsPerToken?(): number;
  /**
   * The state of the module's random stream (an MoE gate's noise), saved with every training
   * checkpoint so that a resumed run draws the same noise; absent when the module draws none.
   */
  randomState?(): RngState;
  setRandomState?(state: RngState): void;
  /**
   * Weights a one-token step reads together through one grouped kernel (an MoE layer's experts,
   * routed and shared): `pinWeights` pins them as a group (all or none, see tensor-core's
   * PinOptions.groups), so that the kernel finds them in one weight arena.
   */
  groupedWeights?(): Tensor[];
}

/** LlamaMLP: down_proj(silu(gate_proj(x)) * up_proj(x)). */
export class DenseFeedForward implements FeedForward {
  readonly prefix = 'mlp';
  constructor(
    /** [F, D] */ public gate: Tensor,
    /** [F, D] */ public up: Tensor,
    /** [D, F] */ public down: Tensor,
    public biases: { gate: Tensor; up: Tensor; down: Tensor } | null = null,
  ) {}

  forward(x: Tensor): Tensor {
    const g = linear(x, this.gate, this.biases?.gate);
    const u = linear(x, this.up, this.biases?.up);
    return linear(swiglu(g, u), this.down, this.biases?.down);
  }

  activeParamsPerToken(): number {
    return this.gate.size + this.up.size + this.down.size;
  }

  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [
      ['gate_proj.weight', this.gate],
      ['up_proj.weight', this.up],
      ['down_proj.weight', this.down],
    ];
    if (this.biases) out.push(['gate_proj.bias', this.biases.gate], ['up_proj.bias', this.biases.up], ['down_proj.bias', this.biases.down]);
    return out;
  }
}
