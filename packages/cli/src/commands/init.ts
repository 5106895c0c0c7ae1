/**
 * `llama-moe init`: a random-init LLaMA model folder in Hugging Face layout, with a tokenizer
 * trained on the synthetic corpus. Weights are generated tensor by tensor inside the safetensors
 * writer's lazy `data` callbacks, each from its own RNG seeded by (seed, tensor name), so memory
 * holds one tensor at a time (a 7B model needs no 27 GB) and the values of a tensor do not depend
 * on the preset size, the layer count or the order tensors are written in.
 */
import * as path from 'node:path';
import { createRng } from '@llama-moe/tensor-core';
import {
  DEFAULT_MAX_SHARD_BYTES,
  PRESETS,
  atomicWriteFile,
  generationConfigJson,
  llamaConfigToJson,
  presetConfig,
  pyJsonDumps,
  saveModelFolder,
  saveTokenizerFiles,
  trainLlamaTokenizer,
  writeShardedSafetensors,
  type LlamaConfig,
  type PresetName,
  type SafetensorsTensorInput,
  type SaveDType,
} from '@llama-moe/llama-model/node';
import { generateCorpus } from '@llama-moe/data-sampler';
import { CliError } from '../errors.js';
import { checkOutputDir } from '../paths.js';
import { removeStaleStaging } from '../staging-leftovers.js';
import { Progress } from '../progress.js';
import { formatBytes, formatCount, formatDuration } from '../format.js';
import type { CommandArgs, CommandSpec } from '../command.js';

const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];
const DTYPES: SaveDType[] = ['float32', 'bfloat16', 'float16'];
const STORAGE: Record<SaveDType, 'F32' | 'BF16' | 'F16'> = { float32: 'F32', bfloat16: 'BF16', float16: 'F16' };
const BYTES: Record<SaveDType, number> = { float32: 4, bfloat16: 2, float16: 2 };
/** llama2-style tokenizers hold <unk>, <s>, </s> and 256 byte tokens at least. */
export const MIN_VOCAB_SIZE = 259;
/** Seed of the tokenizer-training corpus: fixed, so every model of one vocab size shares a tokenizer. */
const TOKENIZER_CORPUS_SEED = 0;

/** How one tensor is initialised (transformers' _init_weights: N(0, initializer_range) or ones / zeros). */
export interface InitTensorPlan {
  name: string;
  shape: number[];
  init: 'normal' | 'ones' | 'zeros';
}

/** Every parameter of a LlamaForCausalLM in transformers' state_dict order. */
export function initTensorPlan(cfg: LlamaConfig): InitTensorPlan[] {
  const D = cfg.hidden_size, F = cfg.intermediate_size, hd = cfg.head_dim, V = cfg.vocab_size;
  const Hq = cfg.num_attention_heads, Hkv = cfg.num_key_value_heads;
  const out: InitTensorPlan[] = [{ name: 'model.embed_tokens.weight', shape: [V, D], init: 'normal' }];
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    out.push(
      { name: `${p}.self_attn.q_proj.weight`, shape: [Hq * hd, D], init: 'normal' },
      { name: `${p}.self_attn.k_proj.weight`, shape: [Hkv * hd, D], init: 'normal' },
      { name: `${p}.self_attn.v_proj.weight`, shape: [Hkv * hd, D], init: 'normal' },
      { name: `${p}.self_attn.o_proj.weight`, shape: [D, Hq * hd], init: 'normal' },
    );
    if (cfg.attention_bias) {
      out.push(
        { name: `${p}.self_attn.q_proj.bias`, shape: [Hq * hd], init: 'zeros' },
        { name: `${p}.self_attn.k_proj.bias`, shape: [Hkv * hd], init: 'zeros' },
        { name: `${p}.self_attn.v_proj.bias`, shape: [Hkv * hd], init: 'zeros' },
        { name: `${p}.self_attn.o_proj.bias`, shape: [D], init: 'zeros' },
      );
    }
    out.push(
      { name: `${p}.mlp.gate_proj.weight`, shape: [F, D], init: 'normal' },
      { name: `${p}.mlp.up_proj.weight`, shape: [F, D], init: 'normal' },
      { name: `${p}.mlp.down_proj.weight`, shape: [D, F], init: 'normal' },
    );
    if (cfg.mlp_bias) {
      out.push(
        { name: `${p}.mlp.gate_proj.bias`, shape: [F], init: 'zeros' },
        { name: `${p}.mlp.up_proj.bias`, shape: [F], init: 'zeros' },
        { name: `${p}.mlp.down_proj.bias`, shape: [D], init: 'zeros' },
      );
    }
    out.push(
      { name: `${p}.input_layernorm.weight`, shape: [D], init: 'ones' },
      { name: `${p}.post_attention_layernorm.weight`, shape: [D], init: 'ones' },
    );
  }
  out.push({ name: 'model.norm.weight', shape: [D], init: 'ones' });
  if (!cfg.tie_word_embeddings) out.push({ name: 'lm_head.weight', shape: [V, D], init: 'normal' });
  return out;
}

/** 32-bit FNV-1a of `${seed}/${name}`: the RNG seed of one tensor. */
export function tensorSeed(seed: number, name: string): number {
  let h = 0x811c9dc5;
  const s = `${seed}/${name}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The f32 values of one planned tensor. */
export function initTensorData(t: InitTensorPlan, seed: number, std: number): Float32Array {
  /** [prod(shape)] */
  const d = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
  if (t.init === 'ones') d.fill(1);
  else if (t.init === 'normal') {
    const rng = createRng(tensorSeed(seed, t.name));
    for (let i = 0; i < d.length; i++) d[i] = rng.normal() * std;
  }
  return d;
}

export interface InitOptions {
  preset: PresetName;
  out: string;
  layers?: number;
  seed?: number;
  dtype?: SaveDType;
  vocabSize?: number;
  maxShardBytes?: number;
  /** Called with bytes of tensor data written so far. */
  onBytes?: (written: number, total: number) => void;
  /** Called once the tokenizer is trained. */
  onTokenizer?: (vocabSize: number, ms: number) => void;
}

export interface InitResult {
  config: LlamaConfig;
  parameters: number;
  bytes: number;
  files: string[];
  tokenizerVocabSize: number;
}

/** The config `init` writes for these options. */
export function initConfig(o: Pick<InitOptions, 'preset' | 'layers' | 'vocabSize' | 'dtype'>): LlamaConfig {
  const overrides: Record<string, unknown> = {};
  if (o.layers !== undefined) overrides.num_hidden_layers = o.layers;
  if (o.vocabSize !== undefined) overrides.vocab_size = o.vocabSize;
  const dtype = o.dtype ?? (PRESETS[o.preset]!.torch_dtype as SaveDType);
  overrides.torch_dtype = dtype;
  return presetConfig(o.preset, overrides);
}

/** Write the model folder (library form of the command; validation of `out` is the caller's). */
export function initModelFolder(o: InitOptions): InitResult {
  const seed = o.seed ?? 0;
  const cfg = initConfig(o);
  const dtype = cfg.torch_dtype as SaveDType;
  const plan = initTensorPlan(cfg);
  const std = cfg.initializer_range ?? 0.02;
  const parameters = plan.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
  const totalBytes = parameters * BYTES[dtype];

  const t0 = performance.now();
  const corpus = generateCorpus({ seed: TOKENIZER_CORPUS_SEED });
  const texts = corpus.domains.flatMap((d) => d.documents);
  const tok = trainLlamaTokenizer(texts, { vocabSize: cfg.vocab_size, style: 'llama2', padToVocabSize: true });
  if (tok.vocabSize !== cfg.vocab_size) {
    throw new CliError(`the trained tokenizer has ${tok.vocabSize} tokens but vocab_size is ${cfg.vocab_size}`, 'choose another --vocab-size');
  }
  o.onTokenizer?.(tok.vocabSize, performance.now() - t0);

  let written = 0;
  const inputs: SafetensorsTensorInput[] = plan.map((t) => ({
    name: t.name,
    dtype: STORAGE[dtype],
    shape: t.shape,
    data: () => {
      const d = initTensorData(t, seed, std);
      written += d.length * BYTES[dtype];
      o.onBytes?.(written, totalBytes);
      return d;
    },
  }));
  let files: string[] = [];
  saveModelFolder(o.out, (staging) => {
    saveTokenizerFiles(staging, { tokenizerJson: tok.tokenizerJson, tokenizerConfig: tok.tokenizerConfig, specialTokensMap: tok.specialTokensMap });
    const r = writeShardedSafetensors(staging, inputs, { maxShardBytes: o.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES, metadata: { format: 'pt' } });
    files = r.files;
    atomicWriteFile(path.join(staging, 'config.json'), pyJsonDumps(llamaConfigToJson(cfg)) + '\n');
    atomicWriteFile(path.join(staging, 'generation_config.json'), pyJsonDumps(generationConfigJson(cfg)) + '\n');
  });
  return { config: cfg, parameters, bytes: totalBytes, files, tokenizerVocabSize: tok.vocabSize };
}

export const initCommand: CommandSpec = {
  name: 'init',
  summary: 'Write a random-init LLaMA model folder (Hugging Face layout) from a preset',
  description:
    'Writes config.json, generation_config.json, model.safetensors (sharded by size for big models) and a ' +
    'LLaMA-2-style tokenizer (tokenizer.json, tokenizer_config.json, special_tokens_map.json) trained on the ' +
    'built-in synthetic corpus, with exactly vocab_size tokens. Weights follow transformers\' init: ' +
    'N(0, initializer_range) for linear and embedding weights, ones for norms. Each tensor is generated from ' +
    'its own seeded RNG while it is written, so memory holds one tensor at a time and the output is ' +
    'deterministic for a given --seed. The folder appears only when complete.',
  usage: ['init --preset NAME --out DIR [--layers N] [--seed S] [--dtype DTYPE] [--vocab-size N]'],
  options: [
    { name: 'preset', type: 'string', required: true, choices: PRESET_NAMES, valueName: 'NAME', description: `Model shape: ${PRESET_NAMES.join(', ')}.` },
    { name: 'out', type: 'string', required: true, valueName: 'DIR', description: 'New model folder (must not exist, or be empty).' },
    { name: 'layers', type: 'int', min: 1, description: 'Override num_hidden_layers (e.g. 4 for a quick 7B-shaped model).' },
    { name: 'seed', type: 'int', min: 0, default: 0, valueName: 'S', description: 'Seed of the weights.' },
    { name: 'dtype', type: 'string', choices: DTYPES, valueName: 'DTYPE', description: 'Storage dtype (default: the preset\'s torch_dtype; bfloat16 for llama2-7b, else float32).' },
    { name: 'vocab-size', type: 'int', min: MIN_VOCAB_SIZE, max: 2_000_000, description: 'Override vocab_size (the tokenizer is trained to exactly this size).' },
    { name: 'max-shard-size', type: 'size', min: 1, description: 'Largest safetensors shard (default 5GB, as transformers).' },
  ],
  examples: [
    'llama-moe init --preset tiny --out models/tiny',
    'llama-moe init --preset stories15M --out models/stories15M --seed 1',
    'llama-moe init --preset llama2-7b --layers 4 --out models/llama2-7b-4l   # ~2 GB in bfloat16',
  ],
  async run(args: CommandArgs) {
    const o = args.options as { preset: PresetName; out: string; layers?: number; seed: number; dtype?: SaveDType; 'vocab-size'?: number; 'max-shard-size'?: number };
    checkOutputDir(o.out);
    removeStaleStaging(o.out, (l) => args.io.stderr(`llama-moe ${args.command}: ${l}\n`));
    const quiet = args.quiet;
    const t0 = performance.now();
    let bar: Progress | null = null;
    if (!quiet) args.io.stderr(`training the ${o['vocab-size'] ?? PRESETS[o.preset]!.vocab_size}-token tokenizer on the synthetic corpus...\n`);
    const r = initModelFolder({
      preset: o.preset,
      out: o.out,
      layers: o.layers,
      seed: o.seed,
      dtype: o.dtype,
      vocabSize: o['vocab-size'],
      maxShardBytes: o['max-shard-size'],
      onTokenizer: () => {
        bar = new Progress(args.io, 'writing weights', { unit: 'bytes', quiet });
      },
      onBytes: (written, total) => {
        if (bar) {
          bar.total = total;
          bar.update(written);
        }
      },
    });
    (bar as Progress | null)?.done();
    if (!quiet) {
      const c = r.config;
      args.io.stdout(
        `wrote ${o.out}: ${o.preset} (${c.num_hidden_layers} layers, hidden ${c.hidden_size}, vocab ${c.vocab_size}), ` +
          `${formatCount(r.parameters)} parameters, ${c.torch_dtype}, ${r.files.length} safetensors file${r.files.length === 1 ? '' : 's'} (${formatBytes(r.bytes)}), ` +
          `in ${formatDuration(performance.now() - t0)}\n`,
      );
    }
    return 0;
  },
};
