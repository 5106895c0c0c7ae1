/**
 * The dense LLaMA-2-7B-shaped checkpoints the conversion figures need (hidden 4096, F 11008,
 * bf16, random weights from `llama-moe init --preset llama2-7b --layers N`). Writing one takes
 * ~20 s per layer on 2 cores, so each is written once under CACHE_DIR and reused while its
 * config and its stamp (file names and sizes) still match.
 */
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, log, runChild, writeFileAtomic } from './util.mjs';

const STAMP = 'llama-moe-bench.json';
const SEED = 0;
const EXPECT = { hidden_size: 4096, intermediate_size: 11008, vocab_size: 32000, torch_dtype: 'bfloat16' };

export function denseDir(layers) {
  return join(CACHE_DIR, `llama2-7b-L${layers}`);
}

/** Safetensors files of a model folder (shards and their index), sorted. */
export function weightFiles(dir) {
  return readdirSync(dir).filter((f) => f.endsWith('.safetensors') || f === 'model.safetensors.index.json').sort();
}

function valid(dir, layers) {
  try {
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    if (cfg.num_hidden_layers !== layers) return false;
    for (const [k, v] of Object.entries(EXPECT)) if (cfg[k] !== v) return false;
    const stamp = JSON.parse(readFileSync(join(dir, STAMP), 'utf8'));
    if (stamp.layers !== layers || stamp.seed !== SEED) return false;
    return Object.entries(stamp.files).every(([f, size]) => statSync(join(dir, f)).size === size);
  } catch {
    return false;
  }
}

/** Path of the cached dense checkpoint with `layers` layers, written first when missing or stale. */
export function ensureDense(layers) {
  const dir = denseDir(layers);
  if (valid(dir, layers)) {
    log(`  reusing dense checkpoint ${dir}`);
    return dir;
  }
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  log(`  writing dense llama2-7b-shaped checkpoint, ${layers} layers, bf16 -> ${dir} (once; ~${20 * layers} s)`);
  const r = runChild('init-child.mjs', { preset: 'llama2-7b', layers, out: dir, dtype: 'bfloat16', seed: SEED });
  const files = Object.fromEntries(weightFiles(dir).map((f) => [f, statSync(join(dir, f)).size]));
  writeFileAtomic(join(dir, STAMP), `${JSON.stringify({ preset: 'llama2-7b', layers, seed: SEED, dtype: 'bfloat16', files }, null, 2)}\n`);
  log(`  wrote ${(r.bytes / 2 ** 30).toFixed(2)} GiB in ${r.seconds.toFixed(0)} s`);
  return dir;
}
