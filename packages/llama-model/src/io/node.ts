/** Checkpoint I/O on the file system (Node): safetensors (read, write, sharded), config.json files, .npy, atomic writes, GGUF files. */
export * from './atomic.js';
export { SafetensorsFile } from './safetensors-reader.js';
export * from './safetensors-writer.js';
export * from './sharded-writer.js';
export * from './checkpoint.js';
export * from './config-files.js';
export * from './npy.js';
export * from './gguf-writer.js';
export { GgufFile, type GgufTensorInfo } from './gguf-reader.js';
