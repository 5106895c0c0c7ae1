/**
 * The Hugging Face `qwen2_moe` format (transformers Qwen2MoeForCausalLM), the mainstream layout for
 * MoEs with a shared expert (transformers, vLLM, llama.cpp's converter):
 *
 *   model.layers.N.self_attn.{q,k,v}_proj.{weight,bias}, o_proj.weight   (Qwen2 attention: q/k/v biases)
 *   model.layers.N.mlp.gate.weight [E, D]
 *   model.layers.N.mlp.experts.J.{gate,up,down}_proj.weight              (moe_intermediate_size)
 *   model.layers.N.mlp.shared_expert.{gate,up,down}_proj.weight          (shared_expert_intermediate_size)
 *   model.layers.N.mlp.shared_expert_gate.weight [1, D]
 *
 * Qwen2MoeSparseMoeBlock: softmax over all E router logits → top-k → renormalised when
 * `norm_topk_prob` (exactly the project's linear softmax top-k gate), then
 * + sigmoid(shared_expert_gate(x)) · shared_expert(x). Written exactly:
 * - `norm_topk_prob: true`; score_scale_factor folded into every expert's down projection;
 * - unequal experts zero-padded to moe_intermediate_size (silu(0)·0 = 0);
 * - every shared expert of the layer concatenated into the one shared expert, its gate all zeros
 *   (sigmoid(0) = 0.5 exactly) and its down projection doubled (×2 is exact in binary floating point);
 *   a model without shared experts gets a one-neuron all-zero shared expert (output 0);
 * - q/k/v biases written as zeros (Qwen2 attention always has them).
 * Refused with the reason: non-linear gates, no softmax / no score weighting, token dropping,
 * attention or MLP biases of the project model (Qwen2 has no o_proj bias), an explicit head_dim
 * other than hidden_size / num_attention_heads, dense models.
 */
import { llamaConfigToJson, PyFloat, saveLlama, type LlamaForCausalLM, type SaveDType } from '@llama-moe/llama-model/node';
import { Tensor } from '@llama-moe/tensor-core';
import { MoeFeedForward } from '@llama-moe/router/modules';
import { ggufMoeIncompatibility, ggufMoeLayerIncompatibility } from './gguf.js';
import { FormatError } from './mixtral.js';
import { MixtralGate, NoisyTopKGate } from '@llama-moe/router/modules';

/** Why `model` cannot be written as qwen2_moe exactly, or null. */
export function qwen2MoeIncompatibility(model: LlamaForCausalLM): string | null {
  const cfg = model.config;
  const layers = model.weights.layers;
  if (!layers.some((L) => L.mlp instanceof MoeFeedForward)) return 'a dense model has no qwen2_moe form; split it into experts first (`llama-moe split`)';
  if (cfg.attention_bias) return 'Qwen2 attention has no o_proj bias; a model with attention biases cannot be expressed';
  if (cfg.head_dim !== cfg.hidden_size / cfg.num_attention_heads) return `qwen2_moe derives head_dim from hidden_size / num_attention_heads; head_dim ${cfg.head_dim} cannot be expressed`;
  const why = ggufMoeIncompatibility(model);
  if (why && !/every layer to be MoE/.test(why)) return why.replace(/llama\.cpp's 'llama' architecture|llama\.cpp/g, 'qwen2_moe');
  for (let l = 0; l < layers.length; l++) {
    const f = layers[l]!.mlp;
    if (f instanceof MoeFeedForward) {
      const w = ggufMoeLayerIncompatibility(f, l);
      if (w) return w.replace(/llama\.cpp/g, 'qwen2_moe');
    }
  }
  return null;
}

function router(f: MoeFeedForward): Tensor {
  const g = f.gate;
  if (g instanceof MixtralGate) return g.weight;
  if (g instanceof NoisyTopKGate) return g.network[0]!;
  throw new FormatError(`gate ${g.constructor.name} has no qwen2_moe form`);
}

/** Pad [s, D] rows to [width, D] with zeros. */
function padRows(t: Tensor, width: number): Tensor {
  const [s, D] = t.shape as [number, number];
  if (s === width) return t;
  const out = new Float32Array(width * D);
  out.set(t.f32());
  return new Tensor(out, [width, D]);
}

/** [D, s] columns (× scale) into [D, width], zeros beyond. */
function padCols(t: Tensor, width: number, scale: number, into?: Float32Array, at = 0): Float32Array {
  const [D, s] = t.shape as [number, number];
  const out = into ?? new Float32Array(D * width);
  const src = t.f32();
  for (let r = 0; r < D; r++) for (let c = 0; c < s; c++) out[r * width + at + c] = scale === 1 ? src[r * s + c]! : Math.fround(src[r * s + c]! * scale);
  return out;
}

/** The qwen2_moe sizes of `model`: moe_intermediate_size and shared_expert_intermediate_size. */
export function qwen2MoeSizes(model: LlamaForCausalLM): { moe: number; shared: number } {
  let moe = 0, shared = 0;
  for (const L of model.weights.layers) {
    const f = L.mlp as MoeFeedForward;
    moe = Math.max(moe, ...f.sizes);
    shared = Math.max(shared, f.shared.reduce((s, e) => s + e.gate.shape[0]!, 0));
  }
  return { moe, shared: Math.max(shared, 1) };
}

export function qwen2MoeConfigJson(model: LlamaForCausalLM, dtype: string): Record<string, unknown> {
  const why = qwen2MoeIncompatibility(model);
  if (why) throw new FormatError(why);
  const cfg = model.config;
  const f0 = model.weights.layers[0]!.mlp as MoeFeedForward;
  const { moe, shared } = qwen2MoeSizes(model);
  const base = llamaConfigToJson({ ...cfg, model_type: 'llama', torch_dtype: dtype });
  for (const k of ['attention_bias', 'mlp_bias', 'pretraining_tp', 'head_dim', 'num_local_experts', 'num_experts_per_tok', 'num_experts', 'num_selects']) delete base[k];
  return {
    ...base,
    model_type: 'qwen2_moe',
    architectures: ['Qwen2MoeForCausalLM'],
    intermediate_size: cfg.intermediate_size,
    num_experts: f0.numExperts,
    num_experts_per_tok: f0.topK,
    moe_intermediate_size: moe,
    shared_expert_intermediate_size: shared,
    norm_topk_prob: true,
    decoder_sparse_step: 1,
    mlp_only_layers: [],
    output_router_logits: false,
    router_aux_loss_coef: new PyFloat(0.001),
    use_sliding_window: false,
    sliding_window: null,
    max_window_layers: cfg.num_hidden_layers,
    attention_dropout: new PyFloat(0),
  };
}

/** Tensors in transformers' state_dict order. */
export function qwen2MoeTensors(model: LlamaForCausalLM): [string, Tensor | (() => Tensor)][] {
  const why = qwen2MoeIncompatibility(model);
  if (why) throw new FormatError(why);
  const { moe, shared } = qwen2MoeSizes(model);
  const w = model.weights;
  const out: [string, Tensor | (() => Tensor)][] = [['model.embed_tokens.weight', w.embed]];
  const zeros = (n: number) => new Tensor(new Float32Array(n), [n]);
  w.layers.forEach((L, i) => {
    const p = `model.layers.${i}`;
    const f = L.mlp as MoeFeedForward;
    const D = L.inputNorm.shape[0]!;
    out.push(
      [`${p}.self_attn.q_proj.weight`, L.attn.q], [`${p}.self_attn.q_proj.bias`, zeros(L.attn.q.shape[0]!)],
      [`${p}.self_attn.k_proj.weight`, L.attn.k], [`${p}.self_attn.k_proj.bias`, zeros(L.attn.k.shape[0]!)],
      [`${p}.self_attn.v_proj.weight`, L.attn.v], [`${p}.self_attn.v_proj.bias`, zeros(L.attn.v.shape[0]!)],
      [`${p}.self_attn.o_proj.weight`, L.attn.o],
    );
    out.push([`${p}.mlp.gate.weight`, router(f)]);
    f.experts.forEach((e, j) => {
      out.push(
        [`${p}.mlp.experts.${j}.gate_proj.weight`, () => padRows(e.gate, moe)],
        [`${p}.mlp.experts.${j}.up_proj.weight`, () => padRows(e.up, moe)],
        [`${p}.mlp.experts.${j}.down_proj.weight`, () => new Tensor(padCols(e.down, moe, f.opts.scoreScale), [D, moe])],
      );
    });
    const stack = (which: 'gate' | 'up') => (): Tensor => {
      const o = new Float32Array(shared * D);
      let row = 0;
      for (const e of f.shared) {
        o.set(e[which].f32(), row * D);
        row += e[which].shape[0]!;
      }
      return new Tensor(o, [shared, D]);
    };
    const down = (): Tensor => {
      const o = new Float32Array(D * shared);
      let col = 0;
      for (const e of f.shared) {
        padCols(e.down, shared, 2, o, col); // sigmoid(0) = 0.5: doubled
        col += e.down.shape[1]!;
      }
      return new Tensor(o, [D, shared]);
    };
    out.push(
      [`${p}.mlp.shared_expert.gate_proj.weight`, stack('gate')],
      [`${p}.mlp.shared_expert.up_proj.weight`, stack('up')],
      [`${p}.mlp.shared_expert.down_proj.weight`, down],
      [`${p}.mlp.shared_expert_gate.weight`, () => new Tensor(new Float32Array(D), [1, D])],
      [`${p}.input_layernorm.weight`, L.inputNorm],
      [`${p}.post_attention_layernorm.weight`, L.postNorm],
    );
  });
  out.push(['model.norm.weight', w.norm]);
  if (!model.config.tie_word_embeddings) out.push(['lm_head.weight', w.lmHead]);
  return out;
}

/** Write `model` as a Hugging Face qwen2_moe folder (exact; refuses with the reason otherwise, writing nothing). */
export function saveQwen2Moe(model: LlamaForCausalLM, dir: string, opts: { dtype?: SaveDType; overwrite?: boolean; maxShardBytes?: number } = {}): void {
  const dtype = opts.dtype ?? 'float32';
  const configJson = qwen2MoeConfigJson(model, dtype);
  saveLlama(model, dir, { dtype, overwrite: opts.overwrite, maxShardBytes: opts.maxShardBytes, configJson, tensors: qwen2MoeTensors(model) });
}
