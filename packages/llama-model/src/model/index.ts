export { DenseFeedForward, type FeedForward, type ForwardContext, type RoutingRecord } from './feed-forward.js';
export { KVCache } from './kv-cache.js';
export { LlamaForCausalLM, causalLmLoss, type AttentionWeights, type DecoderLayer, type ForwardOptions, type ForwardOutput, type LlamaWeights } from './llama.js';
export { argmax, sampleToken, type SamplingOptions } from './sampling.js';
export { generate, generateSteps, generateStream, type GenerateOptions, type GenerateResult } from './generate.js';
export { loadLlamaFrom, readParam, toSafetensorsInput, generationConfigJson, type LoadOptions, type SaveOptions, type SaveDType } from './pretrained.js';
export { PRESETS, presetConfig, type PresetName } from './presets.js';
