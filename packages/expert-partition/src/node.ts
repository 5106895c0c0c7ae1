/**
 * @llama-moe/expert-partition/node: everything in the package root plus the file-system API
 * (Node): MoE folders (save, load, merge back to dense), the streaming split and splitModel,
 * GGUF and Qwen2-MoE export.
 */
export * from './index.js';
export { saveMoeModel, loadMoeModel, loadAnyModel, mergeExpertsToDense } from './moe/moe-files.js';
export { splitStreaming, validateSplitOptions, weightOnlyPartition, sharingInterSharedSize, SplitError, CARVE_DEFAULT_GATE_INIT, defaultGateInit, DEFAULT_DROP_RATIO, type SplitOptions, type SplitResult } from './convert/split.js';
export { splitModel, clusterSequences, type SplitModelOptions, type CalibrationData } from './convert/split-model.js';
export { qwen2MoeIncompatibility, qwen2MoeConfigJson, qwen2MoeTensors, qwen2MoeSizes, saveQwen2Moe } from './formats/qwen2-moe.js';
export { ggufMoeIncompatibility, ggufMoeLayerIncompatibility, ggufExpertWidth, moeFfnGguf, moeGgufParts, writeMoeGguf, type MoeGgufOptions } from './formats/gguf.js';
