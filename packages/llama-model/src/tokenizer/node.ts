/** Tokenizer folders on disk (Node): read tokenizer.json and its companions, load, save. */
export { loadTokenizer, readTokenizerFiles, saveTokenizerFiles, type TokenizerFilesToSave } from './tokenizer-files.js';
