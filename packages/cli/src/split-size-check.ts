/**
 * Before `split` writes anything: does the result fit? An upcycled model grows E-fold, an MLP gate
 * holds an [E, E] matrix, and without this check `--experts 100000 --method upcycle` died deep in
 * the writer with "Invalid typed array length: 10000000000". Checked here: the largest tensor (it
 * is built in memory as one typed array), the output's size against the free disk space, and for
 * the data-driven methods the float32 dense model against the machine's memory.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LlamaConfig } from '@llama-moe/llama-model';
import { CliError } from './errors.js';
import { formatBytes } from './format.js';

/** Elements one typed array may hold here (V8's limit on 64-bit builds is 2^32 bytes-ish; stay well below). */
export const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1;

const DTYPE_BYTES: Record<string, number> = { float32: 4, bfloat16: 2, float16: 2 };

export interface SplitSizeInput {
  cfg: LlamaConfig;
  experts: number;
  method: string;
  format: 'llama-moe' | 'mixtral';
  dtype: string;
  /** Data-driven methods and centroid gates hold the dense model in memory as float32. */
  inMemory: boolean;
}

export interface SplitSize {
  outputBytes: number;
  largestTensor: { name: string; elements: number };
  memoryBytes: number;
}

/** What the split will write and hold, from config.json alone. */
export function splitSize(o: SplitSizeInput): SplitSize {
  const { cfg } = o;
  const D = cfg.hidden_size, F = cfg.intermediate_size, L = cfg.num_hidden_layers, V = cfg.vocab_size, E = o.experts;
  const heads = cfg.num_attention_heads, kv = cfg.num_key_value_heads ?? heads;
  const headDim = (cfg as { head_dim?: number }).head_dim ?? D / heads;
  const attn = D * heads * headDim * 2 + D * kv * headDim * 2;
  const ffnDense = 3 * F * D;
  const ffn = o.method === 'upcycle' ? E * ffnDense : ffnDense;
  const gate = o.format === 'mixtral' ? E * D : E * D + E * E + E * D; // mlp gate [E, D] + [E, E], noise [E, D]
  const embed = V * D * (cfg.tie_word_embeddings ? 1 : 2);
  const elements = embed + L * (attn + ffn + gate + 2 * D) + D;
  const largest = [
    { name: 'model.embed_tokens.weight', elements: V * D },
    { name: 'the [E, E] gate matrix', elements: o.format === 'mixtral' ? 0 : E * E },
    { name: 'an expert', elements: o.method === 'upcycle' ? F * D : Math.ceil(F / E) * D },
  ].reduce((a, b) => (b.elements > a.elements ? b : a));
  const dense = embed + L * (attn + ffnDense + 2 * D) + D;
  return { outputBytes: elements * (DTYPE_BYTES[o.dtype] ?? 4), largestTensor: largest, memoryBytes: o.inMemory ? dense * 4 : 0 };
}

function freeBytesAt(target: string): number | null {
  let dir = path.dirname(path.resolve(target));
  for (;;) {
    try {
      const s = fs.statfsSync(dir);
      return Number(s.bavail) * Number(s.bsize);
    } catch {
      const up = path.dirname(dir);
      if (up === dir) return null;
      dir = up;
    }
  }
}

/** One line (exit 1) when the split cannot fit; `what` names the options that make it big. */
export function checkSplitFits(o: SplitSizeInput & { out: string; what: string }): SplitSize {
  const s = splitSize(o);
  if (s.largestTensor.elements > MAX_TENSOR_ELEMENTS) {
    throw new CliError(`${o.what}: ${s.largestTensor.name} would hold ${s.largestTensor.elements.toLocaleString('en-US')} values, more than one tensor can hold in memory (${MAX_TENSOR_ELEMENTS.toLocaleString('en-US')})`, 'use fewer --experts');
  }
  const free = freeBytesAt(o.out);
  if (free !== null && s.outputBytes > free) {
    throw new CliError(`${o.what}: the output needs about ${formatBytes(s.outputBytes)}, and ${path.dirname(path.resolve(o.out))} has ${formatBytes(free)} free`, 'use fewer --experts, a smaller --dtype, or another --out disk');
  }
  if (s.memoryBytes > os.totalmem()) {
    throw new CliError(`${o.what}: the data-driven method holds the dense model in memory as float32, about ${formatBytes(s.memoryBytes)}, more than this machine's ${formatBytes(os.totalmem())} of memory`, 'use --method random or clustering (they stream the checkpoint), or a machine with more memory');
  }
  return s;
}
