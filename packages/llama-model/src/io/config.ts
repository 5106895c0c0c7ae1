/**
 * config.json for Hugging Face LLaMA-family models (model_type llama and mistral; llama_moe and
 * mixtral parsed enough to be extended). Keys are the Hugging Face names verbatim; defaults are
 * transformers' defaults for each model_type. Anything that would change the math and is not
 * implemented (dynamic / yarn / longrope RoPE, sliding-window attention, non-SiLU activations,
 * quantization) is a ConfigError naming the key, never silently ignored.
 * Browser-safe: reading and writing config.json files is config-files.ts (the ./node entry point).
 */
import { ConfigError } from './errors.js';
import { findDuplicateKey, isJsonObject, pyJsonDumps, PyFloat } from './json-util.js';

export type LlamaModelType = 'llama' | 'mistral' | 'llama_moe' | 'mixtral';
export const SUPPORTED_MODEL_TYPES: readonly LlamaModelType[] = ['llama', 'mistral', 'llama_moe', 'mixtral'];

/** Position interpolation: positions divided by `factor`. */
export interface RopeScalingLinear {
  rope_type: 'linear';
  /** Older configs spell the type `type`; kept so the file round-trips. */
  type?: 'linear';
  factor: number;
}

/** Llama 3.1 frequency-dependent scaling (transformers `_compute_llama3_parameters`). */
export interface RopeScalingLlama3 {
  rope_type: 'llama3';
  type?: 'llama3';
  factor: number;
  low_freq_factor: number;
  high_freq_factor: number;
  original_max_position_embeddings: number;
}

/** null means plain RoPE (`{"rope_type": "default"}` is read as null). */
export type RopeScaling = RopeScalingLinear | RopeScalingLlama3;

export interface LlamaConfig {
  model_type: LlamaModelType;
  architectures: string[] | null;
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  /** Default num_attention_heads (no GQA). */
  num_key_value_heads: number;
  /** Default hidden_size / num_attention_heads. */
  head_dim: number;
  hidden_act: 'silu';
  max_position_embeddings: number;
  rms_norm_eps: number;
  /** Default 10000 (1e6 for mixtral). */
  rope_theta: number;
  rope_scaling: RopeScaling | null;
  tie_word_embeddings: boolean;
  attention_bias: boolean;
  mlp_bias: boolean;
  /** Training-time dropout on attention probabilities (0 in every released LLaMA). */
  attention_dropout: number;
  /** > 1 only splits matmuls in transformers (same math up to rounding); accepted with a note. */
  pretraining_tp: number;
  initializer_range: number;
  use_cache: boolean;
  bos_token_id: number | null;
  eos_token_id: number | number[] | null;
  pad_token_id: number | null;
  torch_dtype: string | null;
  /** mistral / mixtral only (null elsewhere): null or >= max_position_embeddings, i.e. full attention. */
  sliding_window: number | null;

  // mixtral
  num_local_experts?: number;
  num_experts_per_tok?: number;
  router_aux_loss_coef?: number;
  output_router_logits?: boolean;
  router_jitter_noise?: number;

  // llama_moe (pjlab-sys4nlp/llama-moe LlamaMoEConfig)
  num_experts?: number;
  num_selects?: number;
  /** Per layer, per expert intermediate size; null = intermediate_size split evenly. */
  size_experts?: number[][] | null;
  gate_type?: string;
  gate_network?: string;
  gate_use_softmax?: boolean;
  gate_use_balance?: boolean;
  gate_balance_loss_weight?: number;
  gate_add_noise?: boolean;
  gate_noise_epsilon?: number;
  calculator_type?: string;
  multiply_gate_scores?: boolean;
  score_scale_factor?: number;
  add_weight_norm?: boolean;
  drop_tokens?: boolean;
  dropped_padding?: string;
  capacity_factor?: number;

  /** Keys not modeled above (transformers_version, use_cache-like flags, ...), kept verbatim for serialization. */
  extra: Record<string, unknown>;
}

export interface ParsedLlamaConfig {
  config: LlamaConfig;
  /** Accepted settings worth telling the user about (e.g. pretraining_tp > 1). */
  notes: string[];
}

/** Keys whose values Python holds as floats (written `10000.0`, `1e-05`). */
const FLOAT_KEYS = new Set([
  'rms_norm_eps', 'rope_theta', 'attention_dropout', 'initializer_range', 'factor', 'low_freq_factor', 'high_freq_factor',
  'router_aux_loss_coef', 'router_jitter_noise', 'gate_balance_loss_weight', 'gate_noise_epsilon', 'score_scale_factor', 'capacity_factor',
]);

/** Keys of other architectures that change the math; refused rather than ignored. */
const UNSUPPORTED_KEYS: Record<string, (v: unknown) => boolean> = {
  quantization_config: (v) => v !== null && v !== undefined,
  partial_rotary_factor: (v) => v !== undefined && v !== null && v !== 1,
  attn_logit_softcapping: (v) => v !== undefined && v !== null,
  final_logit_softcapping: (v) => v !== undefined && v !== null,
  query_pre_attn_scalar: (v) => v !== undefined && v !== null,
  use_qk_norm: (v) => v === true,
  embedding_multiplier: (v) => v !== undefined && v !== null && v !== 1,
  residual_multiplier: (v) => v !== undefined && v !== null && v !== 1,
  attention_multiplier: (v) => v !== undefined && v !== null,
  logits_scaling: (v) => v !== undefined && v !== null && v !== 1,
};

/** Keys this module models (everything else goes to `extra`). */
const MODELED = new Set([
  'model_type', 'architectures', 'vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads',
  'num_key_value_heads', 'head_dim', 'hidden_act', 'max_position_embeddings', 'rms_norm_eps', 'rope_theta', 'rope_scaling',
  'rope_parameters', 'tie_word_embeddings', 'attention_bias', 'mlp_bias', 'attention_dropout', 'pretraining_tp', 'initializer_range',
  'use_cache', 'bos_token_id', 'eos_token_id', 'pad_token_id', 'torch_dtype',
]);
const SLIDING_TYPES = new Set<LlamaModelType>(['mistral', 'mixtral']);
const MIXTRAL_KEYS = ['num_local_experts', 'num_experts_per_tok', 'router_aux_loss_coef', 'output_router_logits', 'router_jitter_noise'] as const;
const LLAMA_MOE_KEYS = [
  'num_experts', 'num_selects', 'size_experts', 'gate_type', 'gate_network', 'gate_use_softmax', 'gate_use_balance', 'gate_balance_loss_weight',
  'gate_add_noise', 'gate_noise_epsilon', 'calculator_type', 'multiply_gate_scores', 'score_scale_factor', 'add_weight_norm', 'drop_tokens',
  'dropped_padding', 'capacity_factor',
] as const;

/** transformers' per-model_type defaults for the keys that differ between them. */
const DEFAULTS: Record<LlamaModelType, { max_position_embeddings: number; rms_norm_eps: number; rope_theta: number; sliding_window: number | null; pad: number | null; bos: number | null; eos: number | null }> = {
  llama: { max_position_embeddings: 2048, rms_norm_eps: 1e-6, rope_theta: 10000, sliding_window: null, pad: null, bos: 1, eos: 2 },
  mistral: { max_position_embeddings: 4096 * 32, rms_norm_eps: 1e-6, rope_theta: 10000, sliding_window: 4096, pad: null, bos: 1, eos: 2 },
  mixtral: { max_position_embeddings: 4096 * 32, rms_norm_eps: 1e-5, rope_theta: 1e6, sliding_window: null, pad: null, bos: 1, eos: 2 },
  llama_moe: { max_position_embeddings: 2048, rms_norm_eps: 1e-6, rope_theta: 10000, sliding_window: null, pad: 0, bos: 1, eos: 2 },
};

class Reader {
  constructor(readonly file: string, readonly json: Record<string, unknown>) {}
  fail(key: string | null, detail: string): never {
    throw new ConfigError(this.file, key, detail);
  }
  has(key: string): boolean {
    return this.json[key] !== undefined;
  }
  posInt(key: string, dflt?: number, obj: Record<string, unknown> = this.json, label = key): number {
    const v = obj[key];
    if (v === undefined || v === null) {
      if (dflt !== undefined) return dflt;
      this.fail(label, 'is missing; a Hugging Face LLaMA config.json must set it');
    }
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) this.fail(label, `must be a positive integer, got ${JSON.stringify(v)}`);
    return v;
  }
  posNum(key: string, dflt: number, obj: Record<string, unknown> = this.json, label = key): number {
    const v = obj[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) this.fail(label, `must be a positive finite number, got ${JSON.stringify(v)}`);
    return v;
  }
  nonNegNum(key: string, dflt: number): number {
    const v = this.json[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) this.fail(key, `must be a non-negative finite number, got ${JSON.stringify(v)}`);
    return v;
  }
  bool(key: string, dflt: boolean): boolean {
    const v = this.json[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }
  str(key: string, dflt: string): string {
    const v = this.json[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'string') this.fail(key, `must be a string, got ${JSON.stringify(v)}`);
    return v;
  }
  tokenId(key: string, dflt: number | null, vocab: number, allowList: boolean): number | number[] | null {
    // Defaults are transformers' and are not range-checked against a (possibly tiny) vocabulary.
    if (!this.has(key)) return dflt;
    const v = this.json[key];
    if (v === null) return null;
    const check = (x: unknown): number => {
      if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0 || x >= vocab) {
        this.fail(key, `must be a token id in [0, ${vocab})${allowList ? ' or a list of them' : ''}, got ${JSON.stringify(x)}`);
      }
      return x;
    };
    if (Array.isArray(v)) {
      if (!allowList || v.length === 0) this.fail(key, `must be ${allowList ? 'a token id or a non-empty list of token ids' : 'a single token id'}, got ${JSON.stringify(v)}`);
      return v.map(check);
    }
    return check(v);
  }
}

/** rope_scaling (or transformers v5 `rope_parameters` minus rope_theta) -> normalized form. */
function parseRopeScaling(r: Reader, raw: unknown, label: string, maxPos: number): RopeScaling | null {
  if (raw === undefined || raw === null) return null;
  if (!isJsonObject(raw)) r.fail(label, `must be null or an object, got ${JSON.stringify(raw)}`);
  const t1 = raw.rope_type;
  const t2 = raw.type;
  if (t1 !== undefined && t2 !== undefined && t1 !== t2) r.fail(label, `rope_type ${JSON.stringify(t1)} and type ${JSON.stringify(t2)} disagree`);
  const kind = t1 ?? t2;
  const known = new Set(['rope_type', 'type', 'factor', 'low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings', 'rope_theta']);
  const allowed: Record<string, string[]> = {
    default: [],
    linear: ['factor'],
    llama3: ['factor', 'low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings'],
  };
  if (typeof kind !== 'string') r.fail(`${label}.rope_type`, `is missing; expected 'default', 'linear' or 'llama3'`);
  if (!Object.prototype.hasOwnProperty.call(allowed, kind)) {
    r.fail(`${label}.rope_type`, `'${kind}' RoPE scaling is not supported (supported: default, linear, llama3); the model would compute different positions`);
  }
  for (const k of Object.keys(raw)) {
    if (!known.has(k) || (!allowed[kind]!.includes(k) && !['rope_type', 'type', 'rope_theta'].includes(k))) {
      r.fail(`${label}.${k}`, `is not used by '${kind}' RoPE scaling and is not supported`);
    }
  }
  const typeKept = t2 !== undefined ? { type: kind } : {};
  if (kind === 'default') return null;
  const factor = r.posNum('factor', NaN, raw, `${label}.factor`);
  if (Number.isNaN(factor)) r.fail(`${label}.factor`, 'is missing');
  if (kind === 'linear') return { rope_type: 'linear', ...(typeKept as { type?: 'linear' }), factor };
  const low = r.posNum('low_freq_factor', NaN, raw, `${label}.low_freq_factor`);
  const high = r.posNum('high_freq_factor', NaN, raw, `${label}.high_freq_factor`);
  if (Number.isNaN(low) || Number.isNaN(high)) r.fail(label, 'llama3 scaling needs low_freq_factor and high_freq_factor');
  if (!(high > low)) r.fail(`${label}.high_freq_factor`, `must be greater than low_freq_factor (${low}), got ${high}`);
  const orig = r.posInt('original_max_position_embeddings', undefined, raw, `${label}.original_max_position_embeddings`);
  if (orig > maxPos) r.fail(`${label}.original_max_position_embeddings`, `${orig} exceeds max_position_embeddings ${maxPos}`);
  return { rope_type: 'llama3', ...(typeKept as { type?: 'llama3' }), factor, low_freq_factor: low, high_freq_factor: high, original_max_position_embeddings: orig };
}

/** Validate a parsed config.json object; returns the typed config and notes on accepted oddities. */
export function parseLlamaConfigDetailed(json: unknown, file = 'config.json'): ParsedLlamaConfig {
  if (!isJsonObject(json)) throw new ConfigError(file, null, 'config must be a JSON object');
  const r: Reader = new Reader(file, json);
  const notes: string[] = [];
  const model_type = json.model_type;
  if (typeof model_type !== 'string' || !(SUPPORTED_MODEL_TYPES as readonly string[]).includes(model_type)) {
    r.fail('model_type', `${JSON.stringify(model_type)} is not supported (expected one of ${SUPPORTED_MODEL_TYPES.join(', ')})`);
  }
  const mt = model_type as LlamaModelType;
  const d = DEFAULTS[mt];

  for (const [k, bad] of Object.entries(UNSUPPORTED_KEYS)) {
    if (bad(json[k])) r.fail(k, `${JSON.stringify(json[k]).slice(0, 60)} is not supported by this LLaMA implementation (it changes the math); use an unquantized ${mt} checkpoint`);
  }

  const vocab_size = r.posInt('vocab_size');
  const hidden_size = r.posInt('hidden_size');
  const intermediate_size = r.posInt('intermediate_size');
  const num_hidden_layers = r.posInt('num_hidden_layers');
  const num_attention_heads = r.posInt('num_attention_heads');
  const num_key_value_heads = r.posInt('num_key_value_heads', num_attention_heads);
  if (num_attention_heads % num_key_value_heads !== 0) {
    r.fail('num_key_value_heads', `${num_key_value_heads} must divide num_attention_heads ${num_attention_heads} (each KV head serves a whole group of query heads)`);
  }
  if (!r.has('head_dim') || json.head_dim === null) {
    if (hidden_size % num_attention_heads !== 0) {
      r.fail('hidden_size', `${hidden_size} is not divisible by num_attention_heads ${num_attention_heads}; set head_dim explicitly`);
    }
  }
  const head_dim = r.posInt('head_dim', hidden_size / num_attention_heads);
  if (head_dim % 2 !== 0) r.fail('head_dim', `${head_dim} must be even (RoPE rotates pairs of dimensions)`);

  const hidden_act = r.str('hidden_act', 'silu');
  if (hidden_act !== 'silu') r.fail('hidden_act', `'${hidden_act}' is not supported; LLaMA's gated MLP uses 'silu'`);

  const max_position_embeddings = r.posInt('max_position_embeddings', d.max_position_embeddings);
  const rms_norm_eps = r.posNum('rms_norm_eps', d.rms_norm_eps);

  // transformers v5 folds rope_theta and rope_scaling into rope_parameters.
  let rope_theta: number;
  let rope_scaling: RopeScaling | null;
  const rp = json.rope_parameters;
  if (rp !== undefined && rp !== null) {
    if (!isJsonObject(rp)) r.fail('rope_parameters', `must be an object, got ${JSON.stringify(rp)}`);
    rope_theta = r.posNum('rope_theta', r.posNum('rope_theta', d.rope_theta), rp, 'rope_parameters.rope_theta');
    if (r.has('rope_theta') && json.rope_theta !== rope_theta) r.fail('rope_theta', `${json.rope_theta} disagrees with rope_parameters.rope_theta ${rope_theta}`);
    rope_scaling = parseRopeScaling(r, rp, 'rope_parameters', max_position_embeddings);
    if (r.has('rope_scaling') && json.rope_scaling !== null) {
      const other = parseRopeScaling(r, json.rope_scaling, 'rope_scaling', max_position_embeddings);
      if (JSON.stringify({ ...other, type: undefined }) !== JSON.stringify({ ...rope_scaling, type: undefined })) r.fail('rope_scaling', 'disagrees with rope_parameters');
    }
  } else {
    rope_theta = r.posNum('rope_theta', d.rope_theta);
    rope_scaling = parseRopeScaling(r, json.rope_scaling, 'rope_scaling', max_position_embeddings);
  }

  let sliding_window: number | null = null;
  if (SLIDING_TYPES.has(mt)) {
    const sw = r.has('sliding_window') ? json.sliding_window : d.sliding_window;
    if (sw !== null) {
      if (typeof sw !== 'number' || !Number.isSafeInteger(sw) || sw <= 0) r.fail('sliding_window', `must be null or a positive integer, got ${JSON.stringify(sw)}`);
      if (sw < max_position_embeddings) {
        r.fail(
          'sliding_window',
          `${sw}${r.has('sliding_window') ? '' : ` (the ${mt} default)`} < max_position_embeddings ${max_position_embeddings}: sliding-window attention is not supported; use a checkpoint whose config sets sliding_window to null (e.g. Mistral-7B-v0.3)`,
        );
      }
      sliding_window = sw;
    }
  }

  const attention_bias = r.bool('attention_bias', false);
  const mlp_bias = r.bool('mlp_bias', false);
  const attention_dropout = r.nonNegNum('attention_dropout', 0);
  if (attention_dropout > 0) notes.push(`${file}: attention_dropout ${attention_dropout} is a training-time setting; this implementation does not apply attention dropout`);
  const pretraining_tp = r.posInt('pretraining_tp', 1);
  if (pretraining_tp > 1) notes.push(`${file}: pretraining_tp ${pretraining_tp} only splits matmuls into slices in transformers (same math up to float rounding); computed unsplit`);

  const torchDtypeRaw = json.torch_dtype ?? json.dtype ?? null;
  if (torchDtypeRaw !== null && typeof torchDtypeRaw !== 'string') r.fail('torch_dtype', `must be a string such as "bfloat16", got ${JSON.stringify(torchDtypeRaw)}`);
  const arch = json.architectures ?? null;
  if (arch !== null && !(Array.isArray(arch) && arch.every((a) => typeof a === 'string'))) r.fail('architectures', `must be a list of class names, got ${JSON.stringify(arch)}`);

  const config: LlamaConfig = {
    model_type: mt,
    architectures: arch === null ? null : [...(arch as string[])],
    vocab_size,
    hidden_size,
    intermediate_size,
    num_hidden_layers,
    num_attention_heads,
    num_key_value_heads,
    head_dim,
    hidden_act: 'silu',
    max_position_embeddings,
    rms_norm_eps,
    rope_theta,
    rope_scaling,
    tie_word_embeddings: r.bool('tie_word_embeddings', false),
    attention_bias,
    mlp_bias,
    attention_dropout,
    pretraining_tp,
    initializer_range: r.nonNegNum('initializer_range', 0.02),
    use_cache: r.bool('use_cache', true),
    bos_token_id: r.tokenId('bos_token_id', d.bos, vocab_size, false) as number | null,
    eos_token_id: r.tokenId('eos_token_id', d.eos, vocab_size, true),
    pad_token_id: null,
    torch_dtype: torchDtypeRaw as string | null,
    sliding_window,
    extra: {},
  };
  // pad_token_id: some conversions store -1 for "none"; accept any integer or null.
  const pad = r.has('pad_token_id') ? json.pad_token_id : d.pad;
  if (pad !== null && !(typeof pad === 'number' && Number.isSafeInteger(pad) && pad >= -1 && pad < vocab_size)) {
    r.fail('pad_token_id', `must be null or a token id below vocab_size ${vocab_size}, got ${JSON.stringify(pad)}`);
  }
  config.pad_token_id = pad as number | null;

  if (mt === 'mixtral') {
    config.num_local_experts = r.posInt('num_local_experts', 8);
    config.num_experts_per_tok = r.posInt('num_experts_per_tok', 2);
    if (config.num_experts_per_tok > config.num_local_experts) {
      r.fail('num_experts_per_tok', `${config.num_experts_per_tok} exceeds num_local_experts ${config.num_local_experts}`);
    }
    config.router_aux_loss_coef = r.nonNegNum('router_aux_loss_coef', 0.001);
    config.output_router_logits = r.bool('output_router_logits', false);
    config.router_jitter_noise = r.nonNegNum('router_jitter_noise', 0);
  }
  if (mt === 'llama_moe') parseLlamaMoe(r, config);

  const moeKeys = new Set<string>([...(mt === 'mixtral' ? MIXTRAL_KEYS : []), ...(mt === 'llama_moe' ? LLAMA_MOE_KEYS : []), ...(SLIDING_TYPES.has(mt) ? ['sliding_window'] : [])]);
  for (const [k, v] of Object.entries(json)) {
    if (!MODELED.has(k) && !moeKeys.has(k) && v !== undefined) config.extra[k] = v;
  }
  return { config, notes };
}

/** LlamaMoEConfig fields (defaults from pjlab-sys4nlp/llama-moe), type-checked only. */
function parseLlamaMoe(r: Reader, c: LlamaConfig): void {
  c.num_experts = r.posInt('num_experts', 16);
  c.num_selects = r.posInt('num_selects', 4);
  if (c.num_selects > c.num_experts) r.fail('num_selects', `${c.num_selects} exceeds num_experts ${c.num_experts}`);
  const se = r.json.size_experts ?? null;
  if (se !== null) {
    const ok =
      Array.isArray(se) &&
      se.length === c.num_hidden_layers &&
      se.every((layer) => Array.isArray(layer) && layer.length === c.num_experts && layer.every((s) => typeof s === 'number' && Number.isSafeInteger(s) && s > 0));
    if (!ok) r.fail('size_experts', `must be null or ${c.num_hidden_layers} lists (one per layer) of ${c.num_experts} positive expert sizes`);
    c.size_experts = (se as number[][]).map((l) => [...l]);
  } else {
    c.size_experts = null;
  }
  c.gate_type = r.str('gate_type', 'TopKBalancedNoisyGate');
  c.gate_network = r.str('gate_network', 'mlp');
  c.gate_use_softmax = r.bool('gate_use_softmax', true);
  c.gate_use_balance = r.bool('gate_use_balance', true);
  c.gate_balance_loss_weight = r.nonNegNum('gate_balance_loss_weight', 1e-2);
  c.gate_add_noise = r.bool('gate_add_noise', true);
  c.gate_noise_epsilon = r.nonNegNum('gate_noise_epsilon', 1e-2);
  c.calculator_type = r.str('calculator_type', 'UniversalCalculator');
  c.multiply_gate_scores = r.bool('multiply_gate_scores', true);
  c.score_scale_factor = r.nonNegNum('score_scale_factor', 1.0);
  c.add_weight_norm = r.bool('add_weight_norm', false);
  c.drop_tokens = r.bool('drop_tokens', true);
  c.dropped_padding = r.str('dropped_padding', 'zero');
  c.capacity_factor = r.nonNegNum('capacity_factor', 1.25);
}

export function parseLlamaConfig(json: unknown, file = 'config.json'): LlamaConfig {
  return parseLlamaConfigDetailed(json, file).config;
}

/** Parse config.json text (duplicate keys are an error: JSON.parse would silently keep the last). */
export function parseLlamaConfigText(text: string, file = 'config.json'): ParsedLlamaConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(file, null, `not valid JSON (${(e as Error).message})`);
  }
  const dup = findDuplicateKey(text);
  if (dup) throw new ConfigError(file, [...dup.path, dup.key].join('.'), 'appears twice');
  return parseLlamaConfigDetailed(json, file);
}

/** The config as the plain object transformers would save (floats marked for Python repr). */
export function llamaConfigToJson(cfg: LlamaConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { ...cfg.extra };
  const { extra: _extra, ...typed } = cfg;
  for (const [k, v] of Object.entries(typed)) {
    if (v === undefined) continue;
    if (k === 'sliding_window' && !SLIDING_TYPES.has(cfg.model_type)) continue;
    out[k] = v;
  }
  const mark = (obj: Record<string, unknown>): Record<string, unknown> => {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) {
      o[k] = FLOAT_KEYS.has(k) && typeof v === 'number' ? new PyFloat(v) : isJsonObject(v) ? mark(v) : v;
    }
    return o;
  };
  return mark(out);
}

/** config.json text the way transformers writes it: `json.dumps(d, indent=2, sort_keys=True) + "\n"`. */
export function serializeLlamaConfig(cfg: LlamaConfig): string {
  return pyJsonDumps(llamaConfigToJson(cfg)) + '\n';
}
