/** Model folders and GGUF files on disk (Node). */
export { loadLlama, saveLlama, saveModelFolder } from './pretrained-files.js';
export * from './gguf-export.js';
export * from './gguf-import.js';
