/**
 * A dense `llama` GGUF as a model source for `logits`, `generate` and `split`: the weights are
 * dequantized to f32 (loadLlamaGguf) and the tokenizer is rebuilt from `tokenizer.ggml.*`. `split`
 * streams from a Hugging Face folder, so the GGUF is first written as one (a temp folder beside the
 * output, removed afterwards).
 */
import * as fs from 'node:fs';
import { GgufFile, ggufTokenizerFiles, loadLlamaGguf, saveLlama, saveTokenizerFiles, Tokenizer, type LlamaForCausalLM, type TokenizerJson } from '@llama-moe/llama-model/node';

/** True for an existing regular file named *.gguf. */
export function isGgufFile(p: string): boolean {
  return /\.gguf$/i.test(p) && fs.existsSync(p) && fs.statSync(p).isFile();
}

export function loadGgufModel(file: string): LlamaForCausalLM {
  return loadLlamaGguf(file);
}

/** The tokenizer a GGUF carries, or null when it has none. */
export function loadGgufTokenizer(file: string): Tokenizer | null {
  const g = GgufFile.open(file);
  try {
    const files = ggufTokenizerFiles(g.metadata, file);
    return files ? new Tokenizer(files) : null;
  } finally {
    g.close();
  }
}

/** Write the GGUF as a Hugging Face folder `dir` (float32 weights, config.json, tokenizer files). */
export function ggufToFolder(file: string, dir: string): void {
  const model = loadLlamaGguf(file);
  saveLlama(model, dir, { dtype: 'float32', overwrite: true });
  const g = GgufFile.open(file);
  try {
    const files = ggufTokenizerFiles(g.metadata, file);
    if (files) saveTokenizerFiles(dir, { tokenizerJson: files.tokenizerJson as TokenizerJson, tokenizerConfig: files.tokenizerConfig as object });
  } finally {
    g.close();
  }
}
