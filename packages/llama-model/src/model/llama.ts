/**
 * LlamaForCausalLM exactly as transformers computes it in eval mode (eager attention):
 * embed → L × [x + o_proj(attn(rope(q), rope(k), v)) ; x + mlp(rms(x))] → rms → lm_head.
 * One config object (Hugging Face keys verbatim), weights held as tensors named like the
 * checkpoint, the same forward for inference (noGrad, optional KV cache) and training (autograd).
 */
import {
  RopeTables, Tensor, add, attention, attentionOverCache, createRng, crossEntropy, embedding, indices, linear, noGrad, pinTensors, reshape, rmsNorm, rope, slice,
  type PinOptions, type PinResult, type Rng,
} from '@llama-moe/tensor-core';
import type { LlamaConfig } from '../io/config.js';
import { DenseFeedForward, type FeedForward, type ForwardContext, type RoutingRecord } from './feed-forward.js';
import { KVCache } from './kv-cache.js';

export interface AttentionWeights {
  /** [Hq·hd, D] */ q: Tensor;
  /** [Hkv·hd, D] */ k: Tensor;
  /** [Hkv·hd, D] */ v: Tensor;
  /** [D, Hq·hd] */ o: Tensor;
  bias: { q: Tensor; k: Tensor; v: Tensor; o: Tensor } | null;
}

export interface DecoderLayer {
  /** [D] */ inputNorm: Tensor;
  /** [D] */ postNorm: Tensor;
  attn: AttentionWeights;
  mlp: FeedForward;
}

export interface ForwardOptions {
  /** Use (and extend) a KV cache: batch must be 1. */
  cache?: KVCache;
  /** Training mode (gate noise in MoE layers). Autograd is on whenever parameters require grad. */
  training?: boolean;
  /** Compute logits for the last position only (generation prefill). */
  lastOnly?: boolean;
  /** Collect per-layer routing statistics from MoE layers. */
  collectStats?: boolean;
}

export interface ForwardOutput {
  /** [B, T, V] (or [B, 1, V] with lastOnly) */
  logits: Tensor;
  /** Σ auxiliary losses of MoE layers, or null for a dense model. */
  auxLoss: Tensor | null;
  /** Per-layer records (routing statistics) when collectStats. */
  records: RoutingRecord[];
}

export interface LlamaWeights {
  /** [V, D] */ embed: Tensor;
  layers: DecoderLayer[];
  /** [D] */ norm: Tensor;
  /** [V, D]; the same tensor as embed when tie_word_embeddings */ lmHead: Tensor;
}

export class LlamaForCausalLM {
  readonly config: LlamaConfig;
  readonly weights: LlamaWeights;
  readonly rope: RopeTables;

  constructor(config: LlamaConfig, weights: LlamaWeights) {
    this.config = config;
    this.weights = weights;
    this.rope = new RopeTables({ headDim: config.head_dim, theta: config.rope_theta, scaling: config.rope_scaling }, config.max_position_embeddings);
  }

  /** Random init as transformers' _init_weights: N(0, initializer_range) for linears and embeddings, ones for norms. */
  static random(config: LlamaConfig, opts: { seed?: number; rng?: Rng } = {}): LlamaForCausalLM {
    const rng = opts.rng ?? createRng(opts.seed ?? 0);
    const std = config.initializer_range ?? 0.02;
    const D = config.hidden_size, F = config.intermediate_size, hd = config.head_dim;
    const Hq = config.num_attention_heads, Hkv = config.num_key_value_heads;
    const normal = (shape: number[]) => {
      const d = new Float32Array(shape.reduce((a, b) => a * b, 1));
      for (let i = 0; i < d.length; i++) d[i] = rng.normal() * std;
      return new Tensor(d, shape);
    };
    const ones = (n: number) => new Tensor(new Float32Array(n).fill(1), [n]);
    const zeros = (n: number) => new Tensor(new Float32Array(n), [n]);
    const embed = normal([config.vocab_size, D]);
    const layers: DecoderLayer[] = [];
    for (let l = 0; l < config.num_hidden_layers; l++) {
      const attn: AttentionWeights = {
        q: normal([Hq * hd, D]), k: normal([Hkv * hd, D]), v: normal([Hkv * hd, D]), o: normal([D, Hq * hd]),
        bias: config.attention_bias ? { q: zeros(Hq * hd), k: zeros(Hkv * hd), v: zeros(Hkv * hd), o: zeros(D) } : null,
      };
      const mlp = new DenseFeedForward(normal([F, D]), normal([F, D]), normal([D, F]), config.mlp_bias ? { gate: zeros(F), up: zeros(F), down: zeros(D) } : null);
      layers.push({ inputNorm: ones(D), postNorm: ones(D), attn, mlp });
    }
    const lmHead = config.tie_word_embeddings ? embed : normal([config.vocab_size, D]);
    const m = new LlamaForCausalLM(config, { embed, layers, norm: ones(D), lmHead });
    m.nameParameters();
    return m;
  }

  /** Give every parameter tensor its Hugging Face name (used in error messages). */
  nameParameters(): void {
    for (const [n, t] of this.namedParameters()) t.name = n;
  }

  /** Parameters under their Hugging Face checkpoint names, in transformers' state_dict order. */
  namedParameters(): [string, Tensor][] {
    const w = this.weights;
    const out: [string, Tensor][] = [['model.embed_tokens.weight', w.embed]];
    w.layers.forEach((L, i) => {
      const p = `model.layers.${i}`;
      out.push([`${p}.self_attn.q_proj.weight`, L.attn.q], [`${p}.self_attn.k_proj.weight`, L.attn.k], [`${p}.self_attn.v_proj.weight`, L.attn.v], [`${p}.self_attn.o_proj.weight`, L.attn.o]);
      if (L.attn.bias) out.push([`${p}.self_attn.q_proj.bias`, L.attn.bias.q], [`${p}.self_attn.k_proj.bias`, L.attn.bias.k], [`${p}.self_attn.v_proj.bias`, L.attn.bias.v], [`${p}.self_attn.o_proj.bias`, L.attn.bias.o]);
      for (const [n, t] of L.mlp.namedParameters()) out.push([`${p}.${L.mlp.prefix}.${n}`, t]);
      out.push([`${p}.input_layernorm.weight`, L.inputNorm], [`${p}.post_attention_layernorm.weight`, L.postNorm]);
    });
    out.push(['model.norm.weight', w.norm]);
    if (!this.config.tie_word_embeddings) out.push(['lm_head.weight', w.lmHead]);
    return out;
  }

  /**
   * Weights a token is multiplied by in a training forward pass: attention projections, each
   * layer's FFN as its module counts it (an MoE layer: gate + k routed experts + shared experts),
   * the LM head; not the embedding lookup or the norms. 6× this is the PaLM model-FLOPs term.
   */
  activeParamsPerToken(): number {
    let n = this.weights.lmHead.size;
    for (const L of this.weights.layers) {
      n += L.attn.q.size + L.attn.k.size + L.attn.v.size + L.attn.o.size;
      n += L.mlp.activeParamsPerToken ? L.mlp.activeParamsPerToken() : L.mlp.namedParameters().reduce((s, [, t]) => s + t.size, 0);
    }
    return n;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /**
   * Move the weights that gain (96 K to 4 M floats, tensor-core's `pinTensors`; an MoE layer's
   * experts all together once one of them is that large: `FeedForward.groupedWeights`) into a
   * WebAssembly weight arena, so that the matrix–vector products of decode read them in place, on
   * every core, without a per-call dispatch, and an MoE layer runs a token's experts in one call
   * (`swigluExperts`): one call before generating. Values do not change. A multi-token forward
   * (prefill, training) on pinned weights still works, paying a copy of each weight for the native
   * backend. Resolves null (nothing moved) where WebAssembly SIMD is missing or the weights exceed
   * 4 GiB.
   */
  pinWeights(opts: PinOptions = {}): Promise<PinResult | null> {
    // one call, so one arena: an MoE layer's grouped kernel needs all of its experts in the same one
    const groups = this.weights.layers.map((L) => L.mlp.groupedWeights?.() ?? []).filter((g) => g.length > 0);
    return pinTensors(this.parameters(), { ...opts, groups: [...(opts.groups ?? []), ...groups] });
  }

  /** Turn gradients on or off for every parameter. */
  setTrainable(on: boolean, filter: (name: string) => boolean = () => true): void {
    for (const [n, t] of this.namedParameters()) t.requiresGrad = on && filter(n);
  }

  /** The FFN module of every layer, in order (dense or MoE). */
  feedForwards(): FeedForward[] {
    return this.weights.layers.map((L) => L.mlp);
  }

  newCache(maxLen = this.config.max_position_embeddings): KVCache {
    return new KVCache(this.config.num_hidden_layers, maxLen, this.config.num_key_value_heads * this.config.head_dim, this.config.head_dim);
  }

  /** ids [B, T] (int32) → logits [B, T, V]. */
  forward(ids: Tensor | Int32Array | number[], opts: ForwardOptions = {}): ForwardOutput {
    const cfg = this.config;
    const idT = ids instanceof Tensor ? ids : indices(ids instanceof Int32Array ? ids : Int32Array.from(ids), [1, ids.length]);
    const [B, T] = idT.rank === 2 ? (idT.shape as [number, number]) : [1, idT.shape[0]!];
    const cache = opts.cache;
    if (cache && B !== 1) throw new RangeError(`forward: a KV cache needs batch size 1, got ${B}`);
    const past = cache ? cache.length : 0;
    if (past + T > cfg.max_position_embeddings) {
      throw new RangeError(`forward: ${past + T} positions exceed max_position_embeddings ${cfg.max_position_embeddings}`);
    }
    if (cache && past + T > cache.maxLen) throw new RangeError(`forward: KV cache holds ${cache.maxLen} tokens, ${past + T} needed`);
    const pos = indices(Int32Array.from({ length: T }, (_, i) => past + i));
    const D = cfg.hidden_size, Hq = cfg.num_attention_heads, Hkv = cfg.num_key_value_heads, hd = cfg.head_dim, eps = cfg.rms_norm_eps;
    const ctx: ForwardContext = { training: !!opts.training, auxLosses: [], layer: 0, records: [], collectStats: !!opts.collectStats };
    /** [B, T, D] residual stream */
    let h = embedding(this.weights.embed, reshape(idT, [B, T]));
    this.weights.layers.forEach((L, l) => {
      ctx.layer = l;
      const x = rmsNorm(h, L.inputNorm, eps);
      const b = L.attn.bias;
      let q = linear(x, L.attn.q, b?.q);
      let k = linear(x, L.attn.k, b?.k);
      const v = linear(x, L.attn.v, b?.v);
      q = rope(q, pos, this.rope, Hq);
      k = rope(k, pos, this.rope, Hkv);
      let a: Tensor;
      if (cache) {
        cache.append(l, k.f32(), v.f32(), T);
        // an empty cache: the new keys are all there is, so attend over them as they are (one batched
        // product per layer); later tokens read the cache's head-major panels in place
        a = past === 0
          ? attention(q, k, v, { heads: Hq, kvHeads: Hkv, headDim: hd })
          : reshape(attentionOverCache(reshape(q, [T, Hq * hd]), cache.keys[l]!, cache.values[l]!, { heads: Hq, kvHeads: Hkv, headDim: hd, length: past + T, capacity: cache.maxLen }), [1, T, Hq * hd]);
      } else {
        a = attention(q, k, v, { heads: Hq, kvHeads: Hkv, headDim: hd });
      }
      h = add(h, linear(a, L.attn.o, b?.o));
      const x2 = rmsNorm(h, L.postNorm, eps);
      const f = L.mlp.forward(reshape(x2, [B * T, D]), ctx);
      h = add(h, reshape(f, [B, T, D]));
    });
    if (cache) cache.length = past + T;
    if (opts.lastOnly && T > 1) h = slice(h, 1, T - 1, T);
    h = rmsNorm(h, this.weights.norm, eps);
    const logits = linear(h, this.weights.lmHead);
    let auxLoss: Tensor | null = null;
    for (const al of ctx.auxLosses) auxLoss = auxLoss ? add(auxLoss, al) : al;
    return { logits, auxLoss, records: ctx.records };
  }

  /** Logits for inference (no graph). */
  logits(ids: Tensor | Int32Array | number[]): Tensor {
    return noGrad(() => this.forward(ids).logits);
  }
}

/**
 * Next-token cross-entropy as transformers' LlamaForCausalLM computes it with labels = input_ids:
 * logits[:, t] predicts ids[:, t+1]; positions whose label is `ignoreIndex` (or masked) are skipped.
 */
export function causalLmLoss(logits: Tensor, ids: Tensor, lossMask?: Uint8Array | null, ignoreIndex = -100): Tensor {
  const [B, T, V] = logits.shape as [number, number, number];
  const src = ids.i32('causalLmLoss');
  const targets = new Int32Array(B * T).fill(ignoreIndex);
  for (let b = 0; b < B; b++) for (let t = 0; t + 1 < T; t++) {
    const j = b * T + t + 1;
    if (!lossMask || lossMask[j]) targets[b * T + t] = src[j]!;
  }
  return crossEntropy(reshape(logits, [B * T, V]), indices(targets), { ignoreIndex });
}
