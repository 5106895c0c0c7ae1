/**
 * Training checkpoints: `<outDir>/checkpoint-<step>/` holds the model in Hugging Face layout (via
 * the caller's saveModel, float32 so resume is exact), `optimizer.safetensors` (Adam moments per
 * parameter: `<hf name>.exp_avg`, `<hf name>.exp_avg_sq`, F32) and `trainer_state.json` (everything
 * else a bit-identical resume needs). The folder is built as `checkpoint-<step>.tmp-<pid>` and
 * renamed into place only when complete; older checkpoints are pruned only after that rename, so
 * at every instant the output folder holds at least one complete checkpoint (once one exists).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile, atomicWriteJson, fsyncDir, writeSafetensors, type SafetensorsTensorInput } from '@llama-moe/llama-model/node';
import type { AdamW, ParamState } from './optim/adamw.js';
import { CheckpointStateError } from './errors.js';
import { checkParamSteps, checkTrainerState } from './state-check.js';
import type { TrainerState } from './trainer.js';

export const TRAINER_STATE_NAME = 'trainer_state.json';
export const OPTIMIZER_NAME = 'optimizer.safetensors';
export const TRAINER_STATE_FORMAT = 'llama-moe-trainer-state';

/** Moments of the checkpoint phases, in order; a test hook may throw at any of them to simulate a crash. */
export type CheckpointPhase = 'model-written' | 'optimizer-written' | 'state-written' | 'renamed' | 'pruned';

const COMPLETE_RE = /^checkpoint-(\d+)$/;
/** Partial folders: ours (`checkpoint-N.tmp-PID`) and saveLlama's staging (`.checkpoint-N.tmp-PID.partial-…`). */
const PARTIAL_RE = /^\.?checkpoint-\d+\.tmp-/;

export interface CheckpointInfo {
  step: number;
  dir: string;
}

/** Complete checkpoints (folder named checkpoint-<step> holding trainer_state.json), oldest first. */
export function listCheckpoints(outDir: string): CheckpointInfo[] {
  if (!existsSync(outDir)) return [];
  const out: CheckpointInfo[] = [];
  for (const name of readdirSync(outDir)) {
    const m = COMPLETE_RE.exec(name);
    if (!m) continue;
    const dir = join(outDir, name);
    if (!statSync(dir).isDirectory() || !existsSync(join(dir, TRAINER_STATE_NAME))) continue;
    out.push({ step: Number(m[1]), dir });
  }
  return out.sort((a, b) => a.step - b.step);
}

export function latestCheckpoint(outDir: string): CheckpointInfo | null {
  const all = listCheckpoints(outDir);
  return all.length ? all[all.length - 1]! : null;
}

/** Remove folders a crash left half-written. One trainer per output folder is assumed. */
export function removePartialCheckpoints(outDir: string): string[] {
  if (!existsSync(outDir)) return [];
  const removed: string[] = [];
  for (const name of readdirSync(outDir)) {
    if (PARTIAL_RE.test(name)) {
      rmSync(join(outDir, name), { recursive: true, force: true });
      removed.push(name);
    }
  }
  return removed;
}

/**
 * Delete all but the newest `keepLast` complete checkpoints (0 = keep all). Called after a new
 * checkpoint is in place, and on resume (a crash between rename and pruning leaves extras).
 */
export function pruneCheckpoints(outDir: string, keepLast: number): string[] {
  if (!(keepLast > 0)) return [];
  const all = listCheckpoints(outDir);
  const drop = all.slice(0, Math.max(0, all.length - keepLast));
  for (const c of drop) {
    // Rename first: a recursive delete killed half-way would leave `checkpoint-N` without its
    // trainer_state.json, which is neither complete nor partial and would never be cleaned. The
    // renamed folder matches the partial pattern, so an interrupted delete is finished on resume.
    const doomed = `${c.dir}.tmp-${process.pid}-pruned`;
    renameSync(c.dir, doomed);
    rmSync(doomed, { recursive: true, force: true });
  }
  return drop.map((c) => c.dir);
}

export interface WriteCheckpointOptions {
  outDir: string;
  step: number;
  /** Writes the model files into the (existing, empty) folder. */
  saveModel: (dir: string) => void | Promise<void>;
  optimizer: AdamW;
  /** Parameter order for optimizer.safetensors (the model's namedParameters order). */
  paramNames: readonly string[];
  shapes: ReadonlyMap<string, readonly number[]>;
  trainerState: unknown;
  /** Keep the newest N complete checkpoints (0 = all). */
  keepLast: number;
  onPhase?: (phase: CheckpointPhase, step: number, dir: string) => void;
}

/** Write `checkpoint-<step>` atomically, then prune. Returns the final folder. */
export async function writeCheckpoint(o: WriteCheckpointOptions): Promise<string> {
  mkdirSync(o.outDir, { recursive: true });
  const final = join(o.outDir, `checkpoint-${o.step}`);
  const tmp = `${final}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  await o.saveModel(tmp);
  o.onPhase?.('model-written', o.step, tmp);
  writeOptimizerState(join(tmp, OPTIMIZER_NAME), o.optimizer, o.paramNames, o.shapes, o.step);
  o.onPhase?.('optimizer-written', o.step, tmp);
  // trainer_state.json last: a folder holding it is complete by construction.
  atomicWriteJson(join(tmp, TRAINER_STATE_NAME), o.trainerState);
  o.onPhase?.('state-written', o.step, tmp);
  fsyncDir(tmp);
  if (existsSync(final)) {
    // Same step saved again (a resumed run re-reaching it): move the old one aside, then drop it.
    const old = `${final}.tmp-${process.pid}-old`;
    renameSync(final, old);
    renameSync(tmp, final);
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(tmp, final);
  }
  fsyncDir(o.outDir);
  o.onPhase?.('renamed', o.step, final);
  pruneCheckpoints(o.outDir, o.keepLast);
  o.onPhase?.('pruned', o.step, final);
  return final;
}

export function writeOptimizerState(path: string, opt: AdamW, paramNames: readonly string[], shapes: ReadonlyMap<string, readonly number[]>, step: number): void {
  const tensors: SafetensorsTensorInput[] = [];
  for (const name of paramNames) {
    const st = opt.state.get(name);
    if (!st) continue;
    const shape = shapes.get(name)!;
    tensors.push({ name: `${name}.exp_avg`, dtype: 'F32', shape, data: st.expAvg });
    tensors.push({ name: `${name}.exp_avg_sq`, dtype: 'F32', shape, data: st.expAvgSq });
  }
  writeSafetensors(path, tensors, { format: 'pt', optimizer: 'AdamW', step: String(step) });
}

/**
 * Restore Adam moments for every parameter listed in `paramSteps` (from trainer_state.json). Both
 * inputs come from disk: the step counts are checked like the rest of trainer_state.json, and each
 * tensor's header (dtype, shape) is checked against the model's parameter before any byte is read,
 * so a lying size fails here instead of allocating what the header claims.
 */
export function readOptimizerState(path: string, opt: AdamW, paramSteps: Record<string, number>, shapes: ReadonlyMap<string, readonly number[]>): void {
  if (!existsSync(path)) throw new CheckpointStateError('resume', path, 'is missing; the checkpoint is incomplete (delete the folder to resume from an older one)');
  const steps = checkParamSteps(paramSteps, path, 'param_steps');
  const f = SafetensorsFile.open(path);
  try {
    for (const [name, step] of Object.entries(steps)) {
      const shape = shapes.get(name);
      if (!shape) throw new CheckpointStateError('resume', path, `holds optimizer state for '${name}', which the model does not have; resume with the same model architecture`);
      const n = shape.reduce((a, b) => a * b, 1);
      const read = (suffix: string): Float32Array => {
        const key = `${name}${suffix}`;
        if (!f.has(key)) throw new CheckpointStateError('resume', path, `tensor '${key}' is missing`);
        const info = f.info(key);
        if (info.dtype !== 'F32') throw new CheckpointStateError('resume', path, `tensor '${key}' is ${info.dtype}, expected F32 (as writeOptimizerState writes it)`);
        if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i]) || info.byteLength !== n * 4) {
          throw new CheckpointStateError('resume', path, `tensor '${key}' has shape [${info.shape.join(', ')}] (${info.byteLength} bytes), parameter has [${shape.join(', ')}] (${n * 4} bytes)`);
        }
        const d = f.readF32(key);
        if (d.length !== n) throw new CheckpointStateError('resume', path, `tensor '${key}' has ${d.length} elements, parameter has ${n}`);
        return d;
      };
      const s: ParamState = { step, expAvg: read('.exp_avg'), expAvgSq: read('.exp_avg_sq') };
      opt.setState(name, s);
    }
  } finally {
    f.close();
  }
}

/** Read and validate `<dir>/trainer_state.json`: every field's type and range (see state-check.ts). */
export function readTrainerStateFile(dir: string): TrainerState {
  const path = join(dir, TRAINER_STATE_NAME);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CheckpointStateError('resume', path, `cannot read trainer state: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || (json as Record<string, unknown>).format !== TRAINER_STATE_FORMAT) {
    throw new CheckpointStateError('resume', path, `not a ${TRAINER_STATE_FORMAT} file`);
  }
  return checkTrainerState(json, path, TRAINER_STATE_FORMAT);
}
