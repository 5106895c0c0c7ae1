/**
 * Where the shipped demo model lives: packages/cli/assets/demo-model/. This file sits two levels
 * below the package root both as src/demo/assets.ts and as dist/demo/assets.js, so one relative
 * URL finds it from the sources (tests) and from the build (the bin).
 */
import { fileURLToPath } from 'node:url';

export const DEMO_MODEL_NAME = 'demo-model';

export function demoModelDir(): string {
  return fileURLToPath(new URL(`../../assets/${DEMO_MODEL_NAME}`, import.meta.url));
}
