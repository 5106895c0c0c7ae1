// @llama-moe/data-sampler: multi-domain streaming data for continual pre-training.
export { DataError, ReaderError, WeightError, type DataErrorCode } from './errors.js';
export { Rng, type RngState } from './rng.js';
export { byteLevelTokenizer, tokenizerHash, type Tokenizer } from './tokenizer.js';
export {
  readJsonl,
  readText,
  readArrow,
  readArrowTokens,
  readParquet,
  readLines,
  readTextRecords,
  detectFormat,
  type ReaderCursor,
  type TextRecord,
  type TokenRecord,
  type TextFormat,
  type TextReaderOptions,
} from './readers/index.js';
export { Packer, packDocuments, encodeDocument, checkPackOptions, type PackOptions, type PackedBlock, type RemainderPolicy } from './pack.js';
export {
  SLIMPAJAMA_DOMAINS,
  WEIGHT_PRESETS,
  WEIGHT_PRESET_NAMES,
  LLAMA2_7B_REFERENCE_LOSS,
  WEIGHT_SUM_TOLERANCE,
  resolveWeights,
  weightVector,
  type SlimPajamaDomain,
  type DomainWeights,
  type WeightPreset,
  type ResolveWeightsOptions,
} from './weights.js';
export { DynamicWeights, applyDynamicRule, type DynamicRule, type DynamicWeightOptions, type DynamicWeightState } from './dynamic.js';
export { sourcesFromDir, DOCUMENTS_KEY, type DomainSource } from './source.js';
export { DomainStream, type DomainStreamState, type DomainStreamOptions } from './domain-stream.js';
export { MultiDomainSampler, type SamplerOptions, type SamplerState, type SamplerConfig, type Batch } from './sampler.js';
export {
  writePackedDataset,
  sourcesFromPackedDataset,
  packedRecordBatch,
  arrowStreamBytes,
  writeFileAtomic,
  MANIFEST_NAME,
  type PackedDatasetManifest,
  type WritePackedOptions,
} from './writer.js';
export { generateCorpus, writeCorpus, corpusBytes, REDPAJAMA_SET_NAME, type SyntheticCorpus, type CorpusDomain, type GenerateCorpusOptions } from './corpus.js';
export { holdoutValidation, type HoldoutResult } from './split.js';
export {
  BROWN_GENRES,
  BROWN_DOMAINS,
  BROWN_SPLITS,
  BROWN_HELD_OUT_SHARE,
  brownWord,
  detokenizeBrown,
  detokenizeBrownSentence,
  brownGenreSplit,
  brownCorpusDir,
  loadBrownCorpus,
  brownSources,
  brownCounts,
  type BrownGenre,
  type BrownSplit,
  type BrownDocument,
  type BrownCorpus,
} from './brown.js';
