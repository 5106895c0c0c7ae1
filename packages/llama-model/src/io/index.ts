/** Checkpoint I/O: safetensors (read, write, sharded), config.json, shape checks, .npy, atomic writes. */
export * from './errors.js';
export * from './atomic.js';
export { findDuplicateKey, pyJsonDumps, pyFloatRepr, PyFloat, type DuplicateKey } from './json-util.js';
export * from './safetensors-format.js';
export { SafetensorsFile, rawToF32 } from './safetensors-reader.js';
export * from './safetensors-writer.js';
export * from './sharded-writer.js';
export * from './checkpoint.js';
export * from './config.js';
export * from './shape-check.js';
export * from './npy.js';
export * from './memory-checkpoint.js';
export * from './gguf-format.js';
export * from './gguf-writer.js';
export { GgufFile, type GgufTensorInfo } from './gguf-reader.js';
export { editDistance, suggest } from './suggest.js';
