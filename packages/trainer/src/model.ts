/**
 * What the trainer needs from a model: LlamaForCausalLM satisfies it, whatever FFN modules
 * (dense, LLaMA-MoE, Mixtral) are plugged into its layers. Gate-noise RNGs are found on
 * `weights.layers[l].mlp.rng` (MoE modules hold one each) and saved with every checkpoint.
 */
import { createHash } from 'node:crypto';
import { createRng, type RngState, type Tensor } from '@llama-moe/tensor-core';
import { loadLlama, saveLlama, type LlamaConfig, type LlamaForCausalLM } from '@llama-moe/llama-model/node';

export interface ModelForwardOutput {
  /** [B, T, V] */
  logits: Tensor;
  /** Σ of the MoE layers' (already weighted) balance losses, or null for a dense model. */
  auxLoss: Tensor | null;
  records: Record<string, unknown>[];
}

export interface TrainableModel {
  readonly config: LlamaConfig;
  namedParameters(): [string, Tensor][];
  setTrainable(on: boolean, filter?: (name: string) => boolean): void;
  forward(ids: Tensor, opts?: { training?: boolean; collectStats?: boolean }): ModelForwardOutput;
  /** Weights a token passes through (LlamaForCausalLM has it); model FLOPs use the config when absent. */
  activeParamsPerToken?(): number;
}

/** The minimum the evaluators need (a bigram table or any LM works). */
export interface ScoringModel {
  readonly config?: { max_position_embeddings?: number };
  forward(ids: Tensor, opts?: { training?: boolean }): { logits: Tensor };
}

export type SaveModelFn = (model: TrainableModel, dir: string) => void | Promise<void>;
export type LoadModelFn = (dir: string) => TrainableModel | Promise<TrainableModel>;

/** Default saver: Hugging Face folder, float32 (bit-exact resume). */
export const defaultSaveModel: SaveModelFn = (model, dir) => saveLlama(model as unknown as LlamaForCausalLM, dir, { dtype: 'float32', overwrite: true });
export const defaultLoadModel: LoadModelFn = (dir) => loadLlama(dir) as unknown as TrainableModel;

interface RngLike {
  state(): RngState;
  setState(s: RngState): void;
}

function isRng(v: unknown): v is RngLike {
  return typeof v === 'object' && v !== null && typeof (v as RngLike).state === 'function' && typeof (v as RngLike).setState === 'function';
}

/** Gate-noise RNGs of the model's MoE layers, by layer index. */
export function gateRngs(model: TrainableModel): { layer: number; rng: RngLike }[] {
  const layers = (model as unknown as { weights?: { layers?: { mlp?: { rng?: unknown } }[] } }).weights?.layers ?? [];
  const out: { layer: number; rng: RngLike }[] = [];
  layers.forEach((L, layer) => {
    const rng = L?.mlp?.rng;
    if (isRng(rng)) out.push({ layer, rng });
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
