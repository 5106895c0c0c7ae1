/**
 * Where the shipped models live: packages/cli/assets/brown-model/ (the dense LLaMA pre-trained on
 * the Brown Corpus that `llama-moe demo` starts from) and packages/cli/assets/demo-model/ (the
 * small model of the synthetic corpus, kept for the synthetic reproduction section). This file sits two levels
 * below the package root both as src/demo/assets.ts and as dist/demo/assets.js, so one relative
 * URL finds it from the sources (tests) and from the build (the bin).
 */
import { fileURLToPath } from 'node:url';

export const DEMO_MODEL_NAME = 'demo-model';

export function demoModelDir(): string {
  return fileURLToPath(new URL(`../../assets/${DEMO_MODEL_NAME}`, import.meta.url));
}

export const BROWN_MODEL_NAME = 'brown-model';

export function brownModelDir(): string {
  return fileURLToPath(new URL(`../../assets/${BROWN_MODEL_NAME}`, import.meta.url));
}
