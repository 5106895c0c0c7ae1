/**
 * Loading a model folder for inference commands (logits, generate). Dense LLaMA / Mistral folders
 * load through @llama-moe/llama-model; MoE folders (llama_moe, mixtral) through
 * @llama-moe/expert-partition's loader, chosen by the config's model_type.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadLlama, loadTokenizer, readLlamaConfig, type LlamaConfig, type LlamaForCausalLM, type Tokenizer } from '@llama-moe/llama-model/node';
import { CliError } from './errors.js';
import { requireInputDir } from './paths.js';
import { isGgufFile, loadGgufModel, loadGgufTokenizer } from './gguf-source.js';

export interface LoadedModel {
  model: LlamaForCausalLM;
  config: LlamaConfig;
  dir: string;
}

export async function loadModelFolder(dir: string, option = '--model'): Promise<LoadedModel> {
  if (isGgufFile(dir)) {
    const model = loadGgufModel(dir);
    return { model, config: model.config, dir };
  }
  requireInputDir(dir, option, 'model folder');
  if (!fs.existsSync(path.join(dir, 'config.json'))) {
    throw new CliError(`${option} ${dir}: no config.json in the folder`, 'pass a Hugging Face model folder (config.json + *.safetensors), e.g. one written by `llama-moe init`');
  }
  const config = readLlamaConfig(dir);
  if (config.model_type === 'llama' || config.model_type === 'mistral') {
    return { model: loadLlama(dir), config, dir };
  }
  // Imported on demand: the dense commands do not load the MoE package.
  const { loadMoeModel } = await import('@llama-moe/expert-partition/node');
  const model = loadMoeModel(dir);
  return { model, config: model.config, dir };
}

/** The folder's tokenizer, or null when it has no tokenizer.json. */
export function loadFolderTokenizer(dir: string): Tokenizer | null {
  if (isGgufFile(dir)) return loadGgufTokenizer(dir);
  if (!fs.existsSync(path.join(dir, 'tokenizer.json'))) return null;
  return loadTokenizer(dir, { engine: 'auto' });
}

/** `1,5,9` (or `1 5 9`) → ids, each checked against the vocabulary. */
export function parseTokenList(text: string, option: string, vocabSize: number | null): number[] {
  const parts = text.split(/[\s,]+/).filter((s) => s.length > 0);
  if (parts.length === 0) throw new CliError(`${option} is empty`, `pass comma-separated token ids, e.g. ${option} 1,5,9`, 2);
  return parts.map((p, i) => {
    if (!/^\d+$/.test(p)) throw new CliError(`${option}: '${p}' (item ${i + 1}) is not a token id`, `pass comma-separated non-negative integers, e.g. ${option} 1,5,9`, 2);
    const id = Number(p);
    if (vocabSize !== null && id >= vocabSize) throw new CliError(`${option}: token id ${id} (item ${i + 1}) is out of range for vocab_size ${vocabSize}`, `use ids in [0, ${vocabSize})`, 2);
    return id;
  });
}
