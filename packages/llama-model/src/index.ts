/**
 * @llama-moe/llama-model: LLaMA in TypeScript. The root is browser-safe: model, forward pass,
 * generation, tokenizer, config parsing, in-memory checkpoints. Files on disk (safetensors and GGUF
 * readers and writers, model and tokenizer folders) are `@llama-moe/llama-model/node`; benchmarks
 * are `@llama-moe/llama-model/bench`.
 */
export * from './io/index.js';
export * from './model/index.js';
export * from './tokenizer/index.js';
