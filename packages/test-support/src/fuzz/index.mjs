/**
 * Fuzz targets, one module per format, shared by `tools/reliability/fuzz.mjs` (10 000+ cases per
 * target against the built dist) and the packages' `fuzz.test.ts` files (a few hundred cases
 * against the sources, through vitest). Each target is `{ name, arb, run(input), allowed(err),
 * setup(), teardown() }`:
 *
 * - `arb` is a fast-check arbitrary of inputs (a mutated valid file, random bytes, header lies);
 * - `run` feeds one input to the parser and then uses what it returned (reads every tensor,
 *   encodes a string, draws a batch), so a lie that only bites on use is still found;
 * - `allowed(err)` is true only for the library's typed errors. TypeError / RangeError /
 *   SyntaxError and friends leaking out of a parser are the failures this hunts for.
 *
 * The libraries are passed in (`createTargets(libs)`) so the same code runs on dist and on src.
 *
 *   safetensors.mjs    'safetensors', 'safetensors.index.json' (built from the library's dtype table)
 *   config.mjs         'config.json'
 *   gguf.mjs           'gguf', 'gguf model'
 *   tokenizer.mjs      'tokenizer.json'
 *   data-readers.mjs   'jsonl + text readers', 'parquet reader', 'arrow reader'
 *   sampler-state.mjs  'sampler state'
 *   trainer-state.mjs  'trainer_state.json (readTrainerStateFile)', 'optimizer.safetensors (readOptimizerState)', 'trainer_state.json (Trainer.resume)'
 *   runner.mjs         runTarget, summarize, findings, describeInput
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isA } from './mutators.mjs';
import { safetensorsTargets, shardedCheckpointTargets } from './safetensors.mjs';
import { configTargets } from './config.mjs';
import { ggufTargets } from './gguf.mjs';
import { tokenizerTargets } from './tokenizer.mjs';
import { dataReaderTargets } from './data-readers.mjs';
import { samplerStateTargets } from './sampler-state.mjs';
import { trainerStateTargets } from './trainer-state.mjs';

export * from './mutators.mjs';
export { safetensorsDtypeBytes, stBytes, safetensorsCaseArb, safetensorsCaseBytes, safetensorsTargets, shardedCheckpointTargets } from './safetensors.mjs';
export { configTargets } from './config.mjs';
export { ggufTargets } from './gguf.mjs';
export { tokenizerTargets } from './tokenizer.mjs';
export { dataReaderTargets } from './data-readers.mjs';
export { samplerStateTargets } from './sampler-state.mjs';
export { trainerStateTargets } from './trainer-state.mjs';
export { describeInput, runTarget, summarize, findings } from './runner.mjs';

/**
 * Every target the given libraries support. `libs`: { fc, llama, data, trainer, arrow, parquetBytes }
 * where llama / data / trainer are the package modules (llama-model's ./node entry point: the
 * targets read files), `arrow` is apache-arrow and `parquetBytes` is the test Parquet writer
 * (@llama-moe/test-support/parquet-writer). Targets come in a fixed order; `cleanupAll()` removes
 * their temporary folders.
 */
export function createTargets(libs, opts = {}) {
  const { llama, data, trainer } = libs;
  const made = [];
  const ctx = {
    ...libs,
    /**
     * false: Arrow inputs are only truncated (no byte flips / length lies). apache-arrow trusts
     * those lengths (allocating gigabytes, then stalling), which a default test run cannot afford;
     * fuzz.mjs keeps them on and watches with its worker watchdog.
     */
    arrowLengthLies: opts.arrowLengthLies ?? true,
    tmp: (tag) => {
      const d = fs.mkdtempSync(path.join(os.tmpdir(), `llama-moe-fuzz-${tag}-`));
      made.push(d);
      return d;
    },
    ioTyped: (e) => isA(e, llama?.CheckpointIoError),
  };
  const cleanupAll = () => {
    for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  };
  const targets = [];
  if (llama) {
    targets.push(...safetensorsTargets(ctx), ...configTargets(ctx), ...shardedCheckpointTargets(ctx), ...ggufTargets(ctx), ...tokenizerTargets(ctx));
  }
  if (data) targets.push(...dataReaderTargets(ctx), ...samplerStateTargets(ctx));
  if (trainer && llama && data) targets.push(...trainerStateTargets(ctx));
  return { targets, cleanupAll };
}
