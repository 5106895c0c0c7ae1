import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  parseLlamaConfig,
  parseLlamaConfigDetailed,
  parseLlamaConfigText,
  serializeLlamaConfig,
  type LlamaConfig,
} from './config.js';
import { readLlamaConfig, writeLlamaConfig } from './config-files.js';
import { checkShapesAgainstConfig, expectedTensorShapes, type ShapeSource } from './shape-check.js';
import { CheckpointError, ConfigError } from './errors.js';
import { writeShardedSafetensors } from './sharded-writer.js';
import { openCheckpoint } from './checkpoint.js';
import { pyFloatRepr } from './json-util.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const hasPython = spawnSync('python3', ['-c', 'import json'], { encoding: 'utf8' }).status === 0;

// Modeled on the published config.json files (values verbatim, trimmed of nothing that matters).
const LLAMA2_7B = `{
  "_name_or_path": "meta-llama/Llama-2-7b-hf",
  "architectures": ["LlamaForCausalLM"],
  "bos_token_id": 1,
  "eos_token_id": 2,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 11008,
  "max_position_embeddings": 4096,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 32,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": null,
  "tie_word_embeddings": false,
  "torch_dtype": "float16",
  "transformers_version": "4.31.0.dev0",
  "use_cache": true,
  "vocab_size": 32000
}`;
const TINYLLAMA = `{
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "bos_token_id": 1,
  "eos_token_id": 2,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 5632,
  "max_position_embeddings": 2048,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 22,
  "num_key_value_heads": 4,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": null,
  "rope_theta": 10000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.35.0",
  "use_cache": true,
  "vocab_size": 32000
}`;
/** Llama-3.1-8B-Instruct, in the complete form our serializer writes (so it must round-trip byte for byte). */
const LLAMA31_8B = `{
  "architectures": [
    "LlamaForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": [
    128001,
    128008,
    128009
  ],
  "head_dim": 128,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 14336,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "pad_token_id": null,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 8.0,
    "high_freq_factor": 4.0,
    "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.43.0.dev0",
  "use_cache": true,
  "vocab_size": 128256
}
`;
const MISTRAL_V01 = `{
  "architectures": ["MistralForCausalLM"],
  "bos_token_id": 1,
  "eos_token_id": 2,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 14336,
  "max_position_embeddings": 32768,
  "model_type": "mistral",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05,
  "rope_theta": 10000.0,
  "sliding_window": 4096,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.34.0.dev0",
  "use_cache": true,
  "vocab_size": 32000
}`;
const MISTRAL_V03 = MISTRAL_V01.replace('"sliding_window": 4096', '"sliding_window": null').replace('"rope_theta": 10000.0', '"rope_theta": 1000000.0').replace('"vocab_size": 32000', '"vocab_size": 32768');
const MIXTRAL = `{"architectures": ["MixtralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 4096, "intermediate_size": 14336,
  "max_position_embeddings": 32768, "model_type": "mixtral", "num_attention_heads": 32, "num_experts_per_tok": 2, "num_hidden_layers": 32, "num_key_value_heads": 8,
  "num_local_experts": 8, "output_router_logits": false, "rms_norm_eps": 1e-05, "rope_theta": 1000000.0, "router_aux_loss_coef": 0.02, "sliding_window": null,
  "tie_word_embeddings": false, "torch_dtype": "bfloat16", "use_cache": true, "vocab_size": 32000}`;
const LLAMA_MOE = `{"architectures": ["LlamaMoEForCausalLM"], "model_type": "llama_moe", "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 2,
  "num_attention_heads": 32, "vocab_size": 32000, "rms_norm_eps": 1e-06, "num_experts": 4, "num_selects": 2, "size_experts": [[2752, 2752, 2752, 2752], [2752, 2752, 2752, 2752]],
  "gate_type": "TopKBalancedNoisyGate", "gate_network": "mlp", "gate_use_balance": true, "gate_balance_loss_weight": 0.01, "gate_add_noise": true, "calculator_type": "UniversalCalculator",
  "multiply_gate_scores": true, "score_scale_factor": 4.0, "auto_map": {"AutoConfig": "configuration_llama_moe.LlamaMoEConfig"}}`;

const base = (over: Record<string, unknown> = {}): Record<string, unknown> => ({ ...JSON.parse(TINYLLAMA), ...over });
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('config.json parsing', () => {
  it('Llama-2-7b: MHA, defaults filled the transformers way', () => {
    const c = parseLlamaConfigText(LLAMA2_7B).config;
    expect(c).toMatchObject({
      model_type: 'llama', vocab_size: 32000, hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32,
      num_key_value_heads: 32, head_dim: 128, rms_norm_eps: 1e-5, rope_theta: 10000, rope_scaling: null, max_position_embeddings: 4096,
      tie_word_embeddings: false, attention_bias: false, mlp_bias: false, hidden_act: 'silu', bos_token_id: 1, eos_token_id: 2, pad_token_id: null,
      torch_dtype: 'float16', architectures: ['LlamaForCausalLM'], sliding_window: null,
    });
    expect(c.extra).toEqual({ _name_or_path: 'meta-llama/Llama-2-7b-hf', transformers_version: '4.31.0.dev0' });
  });

  it('TinyLlama: GQA with 4 KV heads', () => {
    const c = parseLlamaConfig(JSON.parse(TINYLLAMA));
    expect([c.num_attention_heads, c.num_key_value_heads, c.head_dim, c.num_hidden_layers]).toEqual([32, 4, 64, 22]);
  });

  it('Llama-3.1-8B: llama3 rope_scaling, eos list; serializes back byte for byte', () => {
    const c = parseLlamaConfigText(LLAMA31_8B).config;
    expect(c.rope_scaling).toEqual({ rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 });
    expect(c.eos_token_id).toEqual([128001, 128008, 128009]);
    expect(c.rope_theta).toBe(500000);
    expect(serializeLlamaConfig(c)).toBe(LLAMA31_8B);
  });

  it.runIf(hasPython)('serialized configs equal python json.dumps(json.loads(x), indent=2, sort_keys=True) + "\\n"', () => {
    for (const text of [LLAMA2_7B, TINYLLAMA, LLAMA31_8B, MISTRAL_V03, MIXTRAL, LLAMA_MOE]) {
      const out = serializeLlamaConfig(parseLlamaConfigText(text).config);
      const r = spawnSync('python3', ['-c', 'import json,sys; sys.stdout.write(json.dumps(json.loads(sys.stdin.read()), indent=2, sort_keys=True) + "\\n")'], { input: out, encoding: 'utf8' });
      expect(r.stdout).toBe(out);
    }
  });

  it('Mistral-7B-v0.1 (sliding_window 4096 < 32768) is refused; v0.3 (sliding_window null) is accepted', () => {
    const e = configError(() => parseLlamaConfigText(MISTRAL_V01, 'mistral/config.json'));
    expect(e.key).toBe('sliding_window');
    expect(e.message).toMatch(/^mistral\/config\.json: 'sliding_window': 4096 < max_position_embeddings 32768: sliding-window attention is not supported/);
    const v3 = parseLlamaConfigText(MISTRAL_V03).config;
    expect([v3.model_type, v3.sliding_window, v3.rope_theta, v3.vocab_size]).toEqual(['mistral', null, 1e6, 32768]);
    // The key absent means transformers' MistralConfig default of 4096: refused too.
    const noKey = JSON.parse(MISTRAL_V01);
    delete noKey.sliding_window;
    expect(configError(() => parseLlamaConfig(noKey)).message).toMatch(/4096 \(the mistral default\)/);
    // A window at least as long as the context is plain causal attention.
    expect(parseLlamaConfig({ ...JSON.parse(MISTRAL_V01), sliding_window: 32768 }).sliding_window).toBe(32768);
    expect(serializeLlamaConfig(v3)).toContain('"sliding_window": null');
  });

  it('mixtral and llama_moe parse their MoE fields', () => {
    const m = parseLlamaConfigText(MIXTRAL).config;
    expect([m.num_local_experts, m.num_experts_per_tok, m.router_aux_loss_coef, m.rms_norm_eps]).toEqual([8, 2, 0.02, 1e-5]);
    const l = parseLlamaConfigText(LLAMA_MOE).config;
    expect(l).toMatchObject({ num_experts: 4, num_selects: 2, gate_type: 'TopKBalancedNoisyGate', score_scale_factor: 4, capacity_factor: 1.25, pad_token_id: 0, num_key_value_heads: 32 });
    expect(l.size_experts).toEqual([[2752, 2752, 2752, 2752], [2752, 2752, 2752, 2752]]);
    expect(l.extra).toEqual({ auto_map: { AutoConfig: 'configuration_llama_moe.LlamaMoEConfig' } });
    expect(configError(() => parseLlamaConfig({ ...JSON.parse(LLAMA_MOE), num_selects: 5 })).key).toBe('num_selects');
    expect(configError(() => parseLlamaConfig({ ...JSON.parse(LLAMA_MOE), size_experts: [[1, 2]] })).key).toBe('size_experts');
  });

  it('math-changing unsupported keys are errors naming the key', () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ rope_scaling: { type: 'dynamic', factor: 2.0 } }, 'rope_scaling.rope_type', /'dynamic' RoPE scaling is not supported/],
      [{ rope_scaling: { rope_type: 'yarn', factor: 4.0, original_max_position_embeddings: 2048 } }, 'rope_scaling.rope_type', /'yarn'/],
      [{ rope_scaling: { rope_type: 'longrope', short_factor: [1], long_factor: [1] } }, 'rope_scaling.rope_type', /'longrope'/],
      [{ rope_scaling: { rope_type: 'linear', type: 'dynamic', factor: 2 } }, 'rope_scaling', /disagree/],
      [{ rope_scaling: { rope_type: 'linear', factor: 2, attention_factor: 1.2 } }, 'rope_scaling.attention_factor', /not supported/],
      [{ rope_scaling: { rope_type: 'linear' } }, 'rope_scaling.factor', /missing/],
      [{ rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 4, high_freq_factor: 1, original_max_position_embeddings: 1024 } }, 'rope_scaling.high_freq_factor', /greater than low_freq_factor/],
      [{ rope_scaling: 'linear' }, 'rope_scaling', /null or an object/],
      [{ hidden_act: 'gelu' }, 'hidden_act', /'gelu' is not supported/],
      [{ quantization_config: { quant_method: 'gptq', bits: 4 } }, 'quantization_config', /not supported/],
      [{ partial_rotary_factor: 0.5 }, 'partial_rotary_factor', /not supported/],
      [{ num_key_value_heads: 3 }, 'num_key_value_heads', /must divide num_attention_heads 32/],
      [{ hidden_size: 2050 }, 'hidden_size', /not divisible by num_attention_heads 32; set head_dim/],
      [{ head_dim: 63 }, 'head_dim', /must be even/],
      [{ vocab_size: 0 }, 'vocab_size', /positive integer/],
      [{ num_hidden_layers: 2.5 }, 'num_hidden_layers', /positive integer/],
      [{ intermediate_size: undefined }, 'intermediate_size', /is missing/],
      [{ rms_norm_eps: -1 }, 'rms_norm_eps', /positive finite number/],
      [{ rope_theta: '10000' }, 'rope_theta', /positive finite number/],
      [{ tie_word_embeddings: 'no' }, 'tie_word_embeddings', /true or false/],
      [{ eos_token_id: 32000 }, 'eos_token_id', /token id in \[0, 32000\)/],
      [{ eos_token_id: [] }, 'eos_token_id', /non-empty list/],
      [{ bos_token_id: [1] }, 'bos_token_id', /single token id/],
      [{ model_type: 'gemma' }, 'model_type', /"gemma" is not supported/],
      [{ architectures: 'LlamaForCausalLM' }, 'architectures', /list of class names/],
      [{ torch_dtype: 16 }, 'torch_dtype', /must be a string/],
    ];
    for (const [over, key, re] of cases) {
      const e = configError(() => parseLlamaConfig(base(over), 'tiny/config.json'));
      expect(e.key, JSON.stringify(over)).toBe(key);
      expect(e.message).toMatch(re);
      expect(e.message.startsWith(`tiny/config.json: '${key}': `)).toBe(true);
    }
    expect(configError(() => parseLlamaConfig([1, 2])).message).toMatch(/JSON object/);
    expect(configError(() => parseLlamaConfigText('{"vocab_size": 1, "vocab_size": 2}')).key).toBe('vocab_size');
  });

  it('accepted-with-a-note settings and accepted rope variants', () => {
    const { config, notes } = parseLlamaConfigDetailed(base({ pretraining_tp: 2, attention_dropout: 0.1 }));
    expect(config.pretraining_tp).toBe(2);
    expect(notes.join('\n')).toMatch(/pretraining_tp 2/);
    expect(notes.join('\n')).toMatch(/attention_dropout 0.1/);
    expect(parseLlamaConfig(base({ rope_scaling: { type: 'linear', factor: 2.0 } })).rope_scaling).toEqual({ rope_type: 'linear', type: 'linear', factor: 2 });
    expect(parseLlamaConfig(base({ rope_scaling: { rope_type: 'default' } })).rope_scaling).toBeNull();
    expect(parseLlamaConfig(base({ quantization_config: null, head_dim: null })).head_dim).toBe(64);
    // transformers v5 style rope_parameters.
    const v5 = parseLlamaConfig(base({ rope_theta: undefined, rope_parameters: { rope_type: 'llama3', rope_theta: 500000.0, factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 1024 } }));
    expect(v5.rope_theta).toBe(500000);
    expect(v5.rope_scaling?.rope_type).toBe('llama3');
    expect(parseLlamaConfig(base({ sliding_window: 16 })).extra.sliding_window).toBe(16); // not used by LlamaModel
  });

  it('random valid configs survive parse -> serialize -> parse', () => {
    const cfgArb = fc.record({
      heads: fc.integer({ min: 1, max: 8 }),
      group: fc.integer({ min: 1, max: 4 }),
      half: fc.integer({ min: 1, max: 16 }),
      layers: fc.integer({ min: 1, max: 40 }),
      vocab: fc.integer({ min: 3, max: 200000 }),
      inter: fc.integer({ min: 1, max: 30000 }),
      eps: fc.constantFrom(1e-5, 1e-6, 1e-12, 0.001, 3e-7),
      theta: fc.constantFrom(10000, 500000, 1e6, 12345.5),
      tie: fc.boolean(),
      scaling: fc.constantFrom(null, { rope_type: 'linear', factor: 2.5 }, { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 }),
      eos: fc.oneof(fc.constant(2), fc.constant([1, 2])),
    });
    fc.assert(
      fc.property(cfgArb, (a) => {
        const json = {
          model_type: 'llama', vocab_size: a.vocab, hidden_size: a.heads * a.group * a.half * 2, num_attention_heads: a.heads * a.group, num_key_value_heads: a.heads,
          intermediate_size: a.inter, num_hidden_layers: a.layers, rms_norm_eps: a.eps, rope_theta: a.theta, tie_word_embeddings: a.tie, rope_scaling: a.scaling,
          eos_token_id: a.eos, max_position_embeddings: 128, transformers_version: '4.44.0',
        };
        const c = parseLlamaConfig(json);
        expect(c.head_dim * c.num_attention_heads).toBe(c.hidden_size);
        const again = parseLlamaConfigText(serializeLlamaConfig(c)).config;
        expect(again).toEqual(c);
      }),
    );
  });

  it('readLlamaConfig / writeLlamaConfig name the file in errors', () => {
    const dir = path.join(tmp, 'model');
    fs.mkdirSync(dir);
    expect(() => readLlamaConfig(dir)).toThrow(new RegExp(`${dir.replace(/[/\\]/g, '.')}.config\\.json: cannot read`));
    fs.writeFileSync(path.join(dir, 'config.json'), '{"model_type": "llama",');
    expect(() => readLlamaConfig(dir)).toThrow(/config\.json: not valid JSON/);
    const file = writeLlamaConfig(dir, parseLlamaConfigText(LLAMA31_8B).config);
    expect(fs.readFileSync(file, 'utf8')).toBe(LLAMA31_8B);
    expect(readLlamaConfig(dir).rope_theta).toBe(500000);
    expect(readLlamaConfig(file).vocab_size).toBe(128256);
  });

  it('pyFloatRepr matches Python repr(float)', () => {
    const cases: [number, string][] = [[1e-5, '1e-05'], [1e-6, '1e-06'], [0.02, '0.02'], [10000, '10000.0'], [500000, '500000.0'], [1e16, '1e+16'], [1.5e-7, '1.5e-07'], [0.0001, '0.0001'], [123456789012345680, '1.2345678901234568e+17'], [-2.5, '-2.5'], [0, '0.0']];
    for (const [x, s] of cases) expect(pyFloatRepr(x)).toBe(s);
  });
});

/** A tiny config: V=11, D=8, 2 query heads and 1 KV head of dim 4, F=6, 2 layers. */
const tiny = (over: Record<string, unknown> = {}): LlamaConfig =>
  parseLlamaConfig({ model_type: 'llama', vocab_size: 11, hidden_size: 8, intermediate_size: 6, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, ...over });
function fakeSource(shapes: Map<string, number[]>, dtype = 'BF16'): ShapeSource & { shapes: Map<string, number[]> } {
  return { shapes, path: 'fake.safetensors', keys: () => [...shapes.keys()], info: (n: string) => ({ dtype, shape: shapes.get(n)! }) };
}
function shapeError(fn: () => unknown): CheckpointError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CheckpointError) return e;
    throw e;
  }
  throw new Error('expected a CheckpointError');
}

describe('checkShapesAgainstConfig', () => {
  it('expects exactly the HF LLaMA tensors with the right shapes', () => {
    const cfg = tiny();
    const m = expectedTensorShapes(cfg);
    expect(m.get('model.embed_tokens.weight')).toEqual([11, 8]);
    expect(m.get('model.layers.1.self_attn.q_proj.weight')).toEqual([8, 8]);
    expect(m.get('model.layers.1.self_attn.k_proj.weight')).toEqual([4, 8]);
    expect(m.get('model.layers.0.self_attn.v_proj.weight')).toEqual([4, 8]);
    expect(m.get('model.layers.0.self_attn.o_proj.weight')).toEqual([8, 8]);
    expect(m.get('model.layers.0.mlp.gate_proj.weight')).toEqual([6, 8]);
    expect(m.get('model.layers.0.mlp.down_proj.weight')).toEqual([8, 6]);
    expect(m.get('model.layers.1.post_attention_layernorm.weight')).toEqual([8]);
    expect(m.get('lm_head.weight')).toEqual([11, 8]);
    expect(m.size).toBe(1 + 2 * 9 + 1 + 1);
    expect(checkShapesAgainstConfig(fakeSource(new Map(m)), cfg)).toEqual({ checked: m.size, ignored: [] });
    const withBias = expectedTensorShapes(tiny({ attention_bias: true, mlp_bias: true }));
    expect(withBias.get('model.layers.0.self_attn.k_proj.bias')).toEqual([4]);
    expect(withBias.get('model.layers.0.mlp.down_proj.bias')).toEqual([8]);
    expect(expectedTensorShapes(tiny({ tie_word_embeddings: true })).has('lm_head.weight')).toBe(false);
    // head_dim decoupled from hidden_size (Mistral-Nemo style).
    expect(expectedTensorShapes(tiny({ head_dim: 6 })).get('model.layers.0.self_attn.o_proj.weight')).toEqual([8, 12]);
  });

  it('names the tensor with expected and actual shapes; missing and unexpected tensors; dtype', () => {
    const cfg = tiny();
    const good = expectedTensorShapes(cfg);
    const wrong = new Map(good).set('model.layers.1.mlp.up_proj.weight', [8, 6]);
    const e = shapeError(() => checkShapesAgainstConfig(fakeSource(wrong), cfg));
    expect(e.tensor).toBe('model.layers.1.mlp.up_proj.weight');
    expect(e.message).toBe("fake.safetensors: tensor 'model.layers.1.mlp.up_proj.weight': has shape [8, 6] but the config needs [6, 8]");
    const missing = new Map(good);
    missing.delete('model.norm.weight');
    expect(shapeError(() => checkShapesAgainstConfig(fakeSource(missing), cfg)).message).toMatch(/'model\.norm\.weight': is missing \(expected shape \[8\]\)/);
    const extra = new Map(good).set('model.layers.2.mlp.up_proj.weight', [6, 8]);
    expect(shapeError(() => checkShapesAgainstConfig(fakeSource(extra), cfg)).message).toMatch(/'model\.layers\.2\.mlp\.up_proj\.weight': is not part of a llama model/);
    const two = new Map(wrong).set('bogus', [1]);
    expect(shapeError(() => checkShapesAgainstConfig(fakeSource(two), cfg)).message).toMatch(/and 1 more problem, e\.g\. 'bogus'/);
    expect(shapeError(() => checkShapesAgainstConfig(fakeSource(new Map(good), 'I32'), cfg)).message).toMatch(/has dtype I32/);
    // inv_freq buffers are ignored; a tied lm_head with the right shape is ignored, a wrong one is an error.
    const inv = new Map(good).set('model.layers.0.self_attn.rotary_emb.inv_freq', [2]);
    expect(checkShapesAgainstConfig(fakeSource(inv), cfg).ignored).toEqual(['model.layers.0.self_attn.rotary_emb.inv_freq']);
    const tied = tiny({ tie_word_embeddings: true });
    expect(checkShapesAgainstConfig(fakeSource(new Map(good)), tied).ignored).toEqual(['lm_head.weight']);
    expect(shapeError(() => checkShapesAgainstConfig(fakeSource(new Map(good).set('lm_head.weight', [8, 11])), tied)).message).toMatch(/tied to model\.embed_tokens\.weight/);
  });

  it('mixtral expert layout; llama_moe is refused with a clear message', () => {
    const cfg = parseLlamaConfig({ model_type: 'mixtral', vocab_size: 5, hidden_size: 4, intermediate_size: 3, num_hidden_layers: 1, num_attention_heads: 2, num_local_experts: 3, num_experts_per_tok: 2 });
    const m = expectedTensorShapes(cfg);
    expect(m.get('model.layers.0.block_sparse_moe.gate.weight')).toEqual([3, 4]);
    expect(m.get('model.layers.0.block_sparse_moe.experts.2.w2.weight')).toEqual([4, 3]);
    expect(m.has('model.layers.0.mlp.up_proj.weight')).toBe(false);
    const moe = parseLlamaConfigText(LLAMA_MOE).config;
    expect(() => checkShapesAgainstConfig(fakeSource(new Map()), moe)).toThrow(/'model_type': .*llama_moe/);
  });

  it('works on a real checkpoint folder written by the sharded writer', () => {
    const cfg = tiny({ attention_bias: true });
    const dir = path.join(tmp, 'tiny-ckpt');
    const tensors = [...expectedTensorShapes(cfg)].map(([name, shape]) => ({ name, dtype: 'BF16' as const, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.25) }));
    writeShardedSafetensors(dir, tensors, { maxShardBytes: 200 });
    writeLlamaConfig(dir, cfg);
    const ck = openCheckpoint(dir);
    expect(ck.kind).toBe('sharded');
    expect(checkShapesAgainstConfig(ck, readLlamaConfig(dir)).checked).toBe(tensors.length);
    expect(() => checkShapesAgainstConfig(ck, tiny())).toThrow(new RegExp(`^${dir.replace(/[/\\.]/g, '.')}: tensor 'model\\.layers\\.0\\.self_attn\\.[a-z]_proj\\.bias': is not part of a llama model`));
    ck.close();
  });
});
