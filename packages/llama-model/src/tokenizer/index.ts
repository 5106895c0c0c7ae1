/** Public API of the tokenizer module (re-exported by @llama-moe/llama-model; its files on disk: tokenizer/node.ts, ./node). */
export { TokenizerError, type TokenizerErrorCode } from './errors.js';
export {
  Tokenizer,
  validateTokenizerJson,
  type DecodeOptions,
  type EncodeOptions,
  type TokenizerEngineKind,
  type TokenizerFiles,
  type TokenizerOptions,
} from './tokenizer.js';
export { DecodeStream, type DecodeStreamOptions } from './decode-stream.js';
export { trainLlamaTokenizer, type LlamaTokenizerStyle, type TrainLlamaTokenizerOptions, type TrainedTokenizer } from './train.js';
export {
  serializeConfigJson,
  serializeTokenizerJson,
  specialTokenContent,
  type AddedTokenJson,
  type BpeModelJson,
  type SpecialTokenJson,
  type SpecialTokensMapJson,
  type TokenizerConfigJson,
  type TokenizerJson,
} from './tokenizer-json.js';
export { BpeModel, byteTokenName } from './bpe-model.js';
export { NativeEngine, type TokenizerEngine } from './native-engine.js';
export { LLAMA3_SPLIT_PATTERN, BYTE_TO_CHAR, toByteLevel, fromByteLevel } from './byte-level.js';
export { toWellFormed } from './unicode.js';
export { sampleTokenizerTexts } from './sample-text.js';
export { sentencePieceModelBytes, parseSentencePieceModel } from './sentencepiece-model.js';
export { ggufTokenizerKind, ggufTokenizerMetadata, ggufTokenizerFiles, GGUF_TOKEN_TYPE, type GgufTokenizerModel } from './gguf-vocab.js';
