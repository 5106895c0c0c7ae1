/**
 * Browser-safe model loading: a Hugging Face model folder given as bytes (fetched from a URL or
 * picked with <input type=file>) → LlamaForCausalLM + Tokenizer. Nothing here touches node:fs:
 * the checkpoint is a MemoryCheckpoint, the config and tokenizer are parsed from JSON, and MoE
 * layers are built by expert-partition's `loadMoeModelFrom` on the in-memory checkpoint. Every MoE gate is wrapped in a `GateTap` so the page can read each step's
 * full [T, E] routing probabilities next to the routing records generation reports.
 */
import type { Tensor } from '@llama-moe/tensor-core';
import {
  MemoryCheckpoint, Tokenizer, loadLlamaFrom, parseLlamaConfig,
  type LlamaConfig, type LlamaForCausalLM, type ReadableCheckpoint,
} from '@llama-moe/llama-model';
import { loadMoeModelFrom, specFromConfig, type MoeFormat } from '@llama-moe/expert-partition';
import type { MoeFeedForward } from '@llama-moe/router/modules';
import type { GateContext, GateModule, GateOutput } from '@llama-moe/router/modules';

/** Raised for a model folder the page cannot use; the message names the file and what to do. */
export class PlaygroundLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlaygroundLoadError';
  }
}

/** One gate call as the page sees it (the last forward of a layer). */
export interface GateTapOutput {
  /** Tokens in the call. */
  T: number;
  /** [T, k] chosen experts. */
  topkIndices: Int32Array;
  /** [T, k] combine weights of the chosen experts. */
  scores: Float32Array;
  /** [T, E] routing probabilities (softmax of the clean gate logits). */
  probs: Float32Array;
}

/**
 * A GateModule that forwards to the real gate and keeps a copy of its last output. The model
 * computes exactly what it computes without the tap; the page reads `last` from onRecords.
 */
export class GateTap implements GateModule {
  last: GateTapOutput | null = null;
  constructor(readonly inner: GateModule) {}
  get numExperts(): number {
    return this.inner.numExperts;
  }
  get topK(): number {
    return this.inner.topK;
  }
  forward(x: Tensor, ctx: GateContext): GateOutput {
    const out = this.inner.forward(x, ctx);
    this.last = { T: x.shape[0]!, topkIndices: Int32Array.from(out.topkIndices), scores: Float32Array.from(out.scores.f32()), probs: Float32Array.from(out.probs) };
    return out;
  }
  namedParameters(): [string, Tensor][] {
    return this.inner.namedParameters();
  }
}

export interface MoeSummary {
  format: MoeFormat;
  numExperts: number;
  topK: number;
  gateType: string;
  /** One tap per layer, index = layer. */
  taps: GateTap[];
}

export interface LoadedModel {
  /** Where it came from (URL or "local files"). */
  name: string;
  model: LlamaForCausalLM;
  tokenizer: Tokenizer;
  config: LlamaConfig;
  /** null for a dense model. */
  moe: MoeSummary | null;
  /** Total bytes of the safetensors files. */
  weightBytes: number;
  /** Parameter count. */
  numParameters: number;
}

/** Model-folder files: name → bytes. */
export type ModelFiles = Map<string, Uint8Array>;

const decoder = new TextDecoder();

function parseJsonFile(files: ModelFiles, name: string, required: true): unknown;
function parseJsonFile(files: ModelFiles, name: string, required: false): unknown | undefined;
function parseJsonFile(files: ModelFiles, name: string, required: boolean): unknown {
  const bytes = files.get(name);
  if (!bytes) {
    if (required) throw new PlaygroundLoadError(`${name}: missing; a model folder needs config.json, tokenizer.json and model.safetensors (or shards + model.safetensors.index.json)`);
    return undefined;
  }
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch (e) {
    throw new PlaygroundLoadError(`${name}: not valid JSON (${(e as Error).message})`);
  }
}

/** Build model + tokenizer from the files of a Hugging Face model folder (dense llama/mistral, llama_moe or mixtral). */
export function loadModelFromFiles(name: string, files: ModelFiles): LoadedModel {
  const config = parseLlamaConfig(parseJsonFile(files, 'config.json', true), 'config.json');
  const tokenizerJson = parseJsonFile(files, 'tokenizer.json', true);
  const tokenizer = new Tokenizer({
    tokenizerJson,
    tokenizerConfig: parseJsonFile(files, 'tokenizer_config.json', false),
    specialTokensMap: parseJsonFile(files, 'special_tokens_map.json', false),
    generationConfig: parseJsonFile(files, 'generation_config.json', false),
    path: 'tokenizer.json',
  });
  if (tokenizer.vocabSize > config.vocab_size) {
    throw new PlaygroundLoadError(`tokenizer.json: ${tokenizer.vocabSize} tokens, but config.json vocab_size is ${config.vocab_size}; pick the tokenizer of this model`);
  }
  const mem: ReadableCheckpoint = new MemoryCheckpoint(name, files);
  let weightBytes = 0;
  for (const [f, b] of files) if (f.endsWith('.safetensors')) weightBytes += b.byteLength;

  let model: LlamaForCausalLM;
  let moe: MoeSummary | null = null;
  if (config.model_type === 'llama_moe' || config.model_type === 'mixtral') {
    // The same loader as `loadMoeModel`, on bytes; then every gate is wrapped in a tap.
    model = loadMoeModelFrom(mem, config);
    const { spec, format } = specFromConfig(config);
    const taps = model.weights.layers.map((L) => {
      const ffn = L.mlp as MoeFeedForward;
      const tap = new GateTap(ffn.gate);
      ffn.gate = tap;
      return tap;
    });
    moe = { format, numExperts: spec.numExperts, topK: spec.numSelects, gateType: format === 'mixtral' ? 'MixtralGate' : spec.gateType, taps };
  } else {
    model = loadLlamaFrom(mem, config);
    model.nameParameters();
  }
  mem.close();
  let numParameters = 0;
  for (const [, t] of model.namedParameters()) numParameters += t.size;
  return { name, model, tokenizer, config, moe, weightBytes, numParameters };
}

/** Files a folder URL must / may serve. */
const REQUIRED_JSON = ['config.json', 'tokenizer.json'];
const OPTIONAL_JSON = ['tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json'];

export type FetchProgress = (file: string, loaded: number, total: number | null) => void;

/** A response is a real file only when it is 2xx and not a dev server's HTML fallback page. */
function isFile(res: Response): boolean {
  return res.ok && !(res.headers.get('content-type') ?? '').includes('text/html');
}

async function readBody(res: Response, file: string, onProgress?: FetchProgress): Promise<Uint8Array> {
  const total = Number(res.headers.get('content-length')) || null;
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    onProgress?.(file, loaded, total);
  }
  const out = new Uint8Array(loaded);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}

/** Fetch a model folder served over HTTP: the JSON files, then model.safetensors or the index and its shards. */
export async function fetchModelFolder(base: string, onProgress?: FetchProgress): Promise<ModelFiles> {
  const url = (f: string) => new URL(f, new URL(base.endsWith('/') ? base : `${base}/`, location.href)).href;
  const files: ModelFiles = new Map();
  const get = async (f: string, required: boolean): Promise<boolean> => {
    let res: Response;
    try {
      res = await fetch(url(f));
    } catch (e) {
      throw new PlaygroundLoadError(`${url(f)}: fetch failed (${(e as Error).message})`);
    }
    if (!isFile(res)) {
      if (required) throw new PlaygroundLoadError(`${url(f)}: HTTP ${res.status}${res.ok ? ' (an HTML page, not the file)' : ''}; serve the model folder there or pass ?model=URL`);
      return false;
    }
    files.set(f, await readBody(res, f, onProgress));
    return true;
  };
  await Promise.all([...REQUIRED_JSON.map((f) => get(f, true)), ...OPTIONAL_JSON.map((f) => get(f, false))]);
  // A single model.safetensors first (small models); otherwise the index and its shards.
  if (!(await get('model.safetensors', false))) {
    if (!(await get('model.safetensors.index.json', false))) {
      throw new PlaygroundLoadError(`${url('model.safetensors')}: not found, and no model.safetensors.index.json either; the folder needs its weights`);
    }
    const idx = parseJsonFile(files, 'model.safetensors.index.json', true) as { weight_map?: Record<string, string> };
    if (!idx.weight_map || typeof idx.weight_map !== 'object') throw new PlaygroundLoadError('model.safetensors.index.json: has no weight_map object');
    const shards = [...new Set(Object.values(idx.weight_map))];
    // One shard at a time: peak memory stays at the weights plus one download.
    for (const s of shards) await get(s, true);
  }
  return files;
}

/** Files picked with <input type=file multiple> (or dropped): keyed by their base name. */
export async function filesFromList(list: Iterable<File>): Promise<ModelFiles> {
  const files: ModelFiles = new Map();
  for (const f of list) {
    const name = f.name.split('/').pop()!;
    if (name.endsWith('.json') || name.endsWith('.safetensors')) files.set(name, new Uint8Array(await f.arrayBuffer()));
  }
  if (!files.has('config.json')) throw new PlaygroundLoadError('config.json: not among the picked files; pick config.json, tokenizer.json and the *.safetensors files of one model folder');
  return files;
}
