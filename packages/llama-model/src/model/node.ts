/** Model folders and GGUF files on disk (Node). */
export { loadLlama, saveLlama, saveModelFolder, writeCheckpointFolder, type CheckpointFolderContents } from './pretrained-files.js';
export * from './gguf-export.js';
export * from './gguf-import.js';
