/** @llama-moe/llama-model/bench: prefill and decode throughput of preset-shaped models (random weights), memory copy bandwidth. */
export { benchInference, measureCopyBandwidth, type InferenceBench } from './model/bench.js';
