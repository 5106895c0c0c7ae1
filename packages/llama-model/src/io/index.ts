/**
 * Checkpoint formats, browser-safe: safetensors headers and dtypes, config.json parsing, shape
 * checks, in-memory checkpoints, the GGUF format tables. The file-system side (readers, writers,
 * sharded folders, atomic writes, .npy, GGUF files) is io/node.ts, the package's ./node entry point.
 */
export * from './errors.js';
export { findDuplicateKey, pyJsonDumps, pyFloatRepr, PyFloat, type DuplicateKey } from './json-util.js';
export * from './safetensors-format.js';
export { rawToF32 } from './raw-convert.js';
export * from './config.js';
export * from './shape-check.js';
export * from './memory-checkpoint.js';
export type { SafetensorsTensorInput } from './safetensors-writer.js';
export * from './gguf-format.js';
export { editDistance, suggest } from './suggest.js';
