/**
 * What the trainer needs from a model: LlamaForCausalLM satisfies it, whatever FFN modules
 * (dense, LLaMA-MoE, Mixtral) are plugged into its layers. The gate-noise RNG state of each
 * MoE layer goes through its FFN module's randomState / setRandomState and is saved with every
 * checkpoint.
 */
import { createHash } from 'node:crypto';
import { createRng, type RngState, type Tensor } from '@llama-moe/tensor-core';
import { LlamaForCausalLM, type FeedForward, type LlamaConfig, type RoutingRecord } from '@llama-moe/llama-model';
import { loadLlama, saveLlama } from '@llama-moe/llama-model/node';

export interface ModelForwardOutput {
  /** [B, T, V] */
  logits: Tensor;
  /** Σ of the MoE layers' (already weighted) balance losses, or null for a dense model. */
  auxLoss: Tensor | null;
  records: RoutingRecord[];
}

export interface TrainableModel {
  readonly config: LlamaConfig;
  namedParameters(): [string, Tensor][];
  setTrainable(on: boolean, filter?: (name: string) => boolean): void;
  forward(ids: Tensor, opts?: { training?: boolean; collectStats?: boolean }): ModelForwardOutput;
  /** Weights a token passes through (LlamaForCausalLM has it); model FLOPs use the config when absent. */
  activeParamsPerToken?(): number;
  /** The FFN module of every layer (LlamaForCausalLM has it): where gate-noise RNG state lives. */
  feedForwards?(): readonly FeedForward[];
}

/** The minimum the evaluators need (a bigram table or any LM works). */
export interface ScoringModel {
  readonly config?: { max_position_embeddings?: number };
  forward(ids: Tensor, opts?: { training?: boolean }): { logits: Tensor };
}

export type SaveModelFn = (model: TrainableModel, dir: string) => void | Promise<void>;
export type LoadModelFn = (dir: string) => TrainableModel | Promise<TrainableModel>;

/** Default saver: Hugging Face folder, float32 (bit-exact resume). */
export const defaultSaveModel: SaveModelFn = (model, dir) => saveLlama(llamaOf(model), dir, { dtype: 'float32', overwrite: true });
export const defaultLoadModel: LoadModelFn = (dir) => loadLlama(dir);

/** The LlamaForCausalLM behind a trainable model (what the trainer returns when given one). */
export function llamaOf(model: TrainableModel): LlamaForCausalLM {
  if (model instanceof LlamaForCausalLM) return model;
  throw new TypeError('expected a LlamaForCausalLM (@llama-moe/llama-model); this TrainableModel is another class');
}

interface RngLike {
  state(): RngState;
  setState(s: RngState): void;
}

/** Gate-noise RNGs of the model's MoE layers, by layer index. */
export function gateRngs(model: TrainableModel): { layer: number; rng: RngLike }[] {
  const out: { layer: number; rng: RngLike }[] = [];
  (model.feedForwards?.() ?? []).forEach((f, layer) => {
    if (!f.randomState || !f.setRandomState) return;
    out.push({ layer, rng: { state: () => f.randomState!(), setState: (s) => f.setRandomState!(s) } });
  });
  return out;
}

/** A 32-bit seed derived from the run seed and a tag (independent streams per purpose and layer). */
export function deriveSeed(seed: number, tag: string): number {
  return createHash('sha256').update(`${seed}/${tag}`).digest().readUInt32LE(0);
}

/** Seed every gate-noise RNG from the run seed (layer l gets stream `gate-noise/l`). */
export function seedGateRngs(model: TrainableModel, seed: number): void {
  for (const { layer, rng } of gateRngs(model)) rng.setState(createRng(deriveSeed(seed, `gate-noise/${layer}`)).state());
}
