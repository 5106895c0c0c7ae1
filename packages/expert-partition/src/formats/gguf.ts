/**
 * MoE models as llama.cpp GGUF, architecture `llama` (llama.cpp's Mixtral path):
 * `blk.N.ffn_gate_inp` [E, D] (F32), stacked `blk.N.ffn_{gate,up}_exps` [E, F, D] and
 * `blk.N.ffn_down_exps` [E, D, F], `llama.expert_count` / `llama.expert_used_count`.
 *
 * llama.cpp's `llama` MoE (llm_build_moe_ffn with SOFTMAX gating and norm_w = true) weights the
 * chosen experts by softmax over all E logits → top-k → renormalised, which is exactly a softmax
 * over the k selected logits of a linear gate: LLaMA-MoE's TopKBalancedNoisyGate with
 * gate_network 'linear' at eval (no noise), or Mixtral's router. What the project adds on top is
 * written into the weights, exactly:
 * - score_scale_factor s: every expert's down projection multiplied by s;
 * - unequal experts: each padded with zero neurons to the largest size (silu(0)·0 = 0);
 * - shared (always-on) experts: since the k renormalised weights sum to one, Σ w_i·(s·e_i(x) +
 *   shared(x)) = s·Σ w_i·e_i(x) + shared(x), so the shared neurons are appended to every routed
 *   expert. Cost: each routed expert grows by the shared size (E× its storage; k× its compute).
 *
 * An MLP gate (tanh between two linears), gates without softmax or without score weighting, and
 * token dropping have no llama.cpp equivalent: `ggufMoeIncompatibility` names the reason and the
 * export refuses before anything is written.
 */
import {
  GgufError,
  llamaGgufParts,
  gguf,
  writeGguf,
  type FeedForward,
  type GgufExportTensor,
  type GgufFfnExport,
  type GgufOutType,
  type GgufWriteResult,
  type LlamaForCausalLM,
  type Tokenizer,
} from '@llama-moe/llama-model/node';
import { MixtralGate, NoisyTopKGate } from '@llama-moe/router/modules';
import { MoeFeedForward, type ExpertWeights } from '@llama-moe/router/modules';

/** The [E, D] linear router weight of a gate llama.cpp can run, or the reason it cannot. */
function linearRouter(ffn: MoeFeedForward): Float32Array | string {
  const g = ffn.gate;
  if (g instanceof MixtralGate) {
    if (!g.cfg.normTopkProb) return "a Mixtral router without renormalised top-k (norm_topk_prob false) is not llama.cpp's 'llama' MoE";
    return g.weight.f32();
  }
  if (g instanceof NoisyTopKGate) {
    if (g.cfg.gateNetwork !== 'linear') return `llama.cpp's router is one linear layer; gate_network '${g.cfg.gateNetwork}' (Linear → tanh → Linear) cannot be expressed`;
    if (!g.cfg.useSoftmax) return 'llama.cpp weights experts by softmax scores; gate_use_softmax false cannot be expressed';
    return g.network[0]!.f32();
  }
  return `gate ${g.constructor.name} has no llama.cpp equivalent (only a linear softmax top-k router)`;
}

/** Why layer `l`'s FFN cannot be written as llama.cpp's `llama` MoE, or null. */
export function ggufMoeLayerIncompatibility(ffn: FeedForward, l: number): string | null {
  if (!(ffn instanceof MoeFeedForward)) return `layer ${l}: FFN ${ffn.constructor.name} is not an MoE layer`;
  const r = linearRouter(ffn);
  if (typeof r === 'string') return `layer ${l}: ${r}`;
  if (!ffn.opts.multiplyGateScores) return `layer ${l}: experts are not weighted by their gate scores (multiply_gate_scores false); llama.cpp always weights them`;
  if (ffn.opts.calculator === 'SwitchDropTokenCalculator' && ffn.opts.dropTokens) return `layer ${l}: token dropping (SwitchDropTokenCalculator) has no llama.cpp equivalent`;
  return null;
}

/** Why `model` cannot be exported to GGUF exactly, or null. Dense layers are fine only if every layer is dense. */
export function ggufMoeIncompatibility(model: LlamaForCausalLM): string | null {
  const cfg = model.config;
  if (cfg.mlp_bias) return 'MoE experts with MLP biases have no llama.cpp equivalent';
  const moe = model.weights.layers.map((L) => L.mlp instanceof MoeFeedForward);
  if (!moe.some(Boolean)) return null;
  if (!moe.every(Boolean)) return `llama.cpp's 'llama' architecture needs every layer to be MoE (layers ${moe.map((m, i) => (m ? null : i)).filter((x) => x !== null).join(', ')} are dense)`;
  const E = (model.weights.layers[0]!.mlp as MoeFeedForward).numExperts;
  const k = (model.weights.layers[0]!.mlp as MoeFeedForward).topK;
  for (let l = 0; l < model.weights.layers.length; l++) {
    const f = model.weights.layers[l]!.mlp as MoeFeedForward;
    if (f.numExperts !== E || f.topK !== k) return `layer ${l} has ${f.numExperts} experts / top-${f.topK}, layer 0 ${E} / top-${k}: llama.cpp uses one expert_count and expert_used_count`;
    const why = ggufMoeLayerIncompatibility(f, l);
    if (why) return why;
  }
  return null;
}

/** Largest per-expert intermediate size after padding (routed size + every shared expert's size), over all layers. */
export function ggufExpertWidth(model: LlamaForCausalLM): number {
  let w = 0;
  for (const L of model.weights.layers) {
    const f = L.mlp as MoeFeedForward;
    const shared = f.shared.reduce((s, e) => s + e.gate.shape[0]!, 0);
    w = Math.max(w, Math.max(...f.sizes) + shared);
  }
  return w;
}

/** Stacked expert tensors of one layer, routed experts padded and shared experts appended. */
export function moeFfnGguf(layer: number, mlp: FeedForward, width: number): GgufFfnExport {
  const why = ggufMoeLayerIncompatibility(mlp, layer);
  if (why) throw new GgufError('<export>', `blk.${layer}.ffn_gate_inp.weight`, why);
  const f = mlp as MoeFeedForward;
  const E = f.numExperts;
  const D = f.experts[0]!.gate.shape[1]!;
  const scale = f.opts.scoreScale;
  const router = linearRouter(f) as Float32Array;
  /** Expert j's neurons: its own (down × scale), then every shared expert's. */
  const pieces = (j: number): Array<{ e: ExpertWeights; s: number }> => [{ e: f.experts[j]!, s: scale }, ...f.shared.map((e) => ({ e, s: 1 }))];
  const gateUp = (which: 'gate' | 'up') => (): Float32Array => {
    const out = new Float32Array(E * width * D);
    for (let j = 0; j < E; j++) {
      let row = 0;
      for (const { e } of pieces(j)) {
        const w = e[which].f32();
        out.set(w, (j * width + row) * D);
        row += e[which].shape[0]!;
      }
    }
    return out;
  };
  const down = (): Float32Array => {
    const out = new Float32Array(E * D * width);
    for (let j = 0; j < E; j++) {
      let col = 0;
      for (const { e, s } of pieces(j)) {
        const w = e.down.f32();
        const n = e.down.shape[1]!;
        for (let r = 0; r < D; r++) {
          const dst = (j * D + r) * width + col;
          for (let c = 0; c < n; c++) out[dst + c] = s === 1 ? w[r * n + c]! : Math.fround(w[r * n + c]! * s);
        }
        col += n;
      }
    }
    return out;
  };
  const p = `blk.${layer}`;
  const tensors: GgufExportTensor[] = [
    { name: `${p}.ffn_gate_inp.weight`, shape: [E, D], data: router, kind: 'f32' },
    { name: `${p}.ffn_gate_exps.weight`, shape: [E, width, D], data: gateUp('gate'), kind: 'matrix' },
    { name: `${p}.ffn_up_exps.weight`, shape: [E, width, D], data: gateUp('up'), kind: 'matrix' },
    { name: `${p}.ffn_down_exps.weight`, shape: [E, D, width], data: down, kind: 'matrix' },
  ];
  return { tensors };
}

export interface MoeGgufOptions {
  tokenizer: Tokenizer;
  outtype?: GgufOutType;
  name?: string;
}

/** Metadata and tensors of `model` (dense or MoE) as a `llama` GGUF; throws GgufError when it cannot be exact. */
export function moeGgufParts(model: LlamaForCausalLM, opts: MoeGgufOptions & { file?: string }) {
  const file = opts.file ?? '<export>';
  const why = ggufMoeIncompatibility(model);
  if (why) throw new GgufError(file, null, why);
  const first = model.weights.layers[0]!.mlp;
  if (!(first instanceof MoeFeedForward)) return llamaGgufParts(model, { tokenizer: opts.tokenizer, outtype: opts.outtype, name: opts.name, file });
  const width = ggufExpertWidth(model);
  return llamaGgufParts(model, {
    tokenizer: opts.tokenizer,
    outtype: opts.outtype,
    name: opts.name,
    file,
    ffn: (l, mlp) => moeFfnGguf(l, mlp, width),
    extras: {
      feedForwardLength: width,
      keys: [
        ['expert_count', gguf.u32(first.numExperts)],
        ['expert_used_count', gguf.u32(first.topK)],
      ],
    },
  });
}

/** Write `model` (dense or MoE) as a llama.cpp `llama` GGUF, atomically; refuses (writing nothing) when it cannot be exact. */
export function writeMoeGguf(model: LlamaForCausalLM, path: string, opts: MoeGgufOptions): GgufWriteResult {
  const { metadata, tensors } = moeGgufParts(model, { ...opts, file: path });
  return writeGguf(path, metadata, tensors);
}

