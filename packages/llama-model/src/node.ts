/**
 * @llama-moe/llama-model/node: everything in the package root plus the file-system API (Node):
 * safetensors and GGUF files, sharded checkpoints, config.json and tokenizer files, model
 * folders (loadLlama, saveLlama), atomic writes, .npy.
 */
export * from './index.js';
export * from './io/node.js';
export * from './model/node.js';
export * from './tokenizer/node.js';
