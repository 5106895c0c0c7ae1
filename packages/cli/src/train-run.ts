/**
 * The output folder of a `train` run around the trainer's loop: what a user sees when a run
 * starts, resumes, is interrupted, fails or ends.
 *
 * - leftovers of a killed run (`checkpoint-N.tmp-*`) are removed, and said so;
 * - a resume names the checkpoint it starts from;
 * - Ctrl-C (SIGINT) stops between two steps and says where, and how to resume;
 * - a run that fails before its first checkpoint leaves no output folder it created;
 * - a finished run has `final/`: the last checkpoint's model files (hard links, so no extra disk),
 *   the folder the docs and `export` examples point at.
 */
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { latestCheckpoint, removePartialCheckpoints, OPTIMIZER_NAME, TRAINER_STATE_NAME } from '@llama-moe/trainer';
import { CliError } from './errors.js';

export const FINAL_NAME = 'final';
/** Exit code of a run stopped by SIGINT (128 + 2, as a shell reports it). */
export const EXIT_INTERRUPTED = 130;

/** Remove staging leftovers; say what the run will start from. Returns whether outDir existed with content. */
export function prepareRunFolder(outDir: string, log: (line: string) => void): { createdByUs: boolean } {
  const existed = existsSync(outDir) && readdirSync(outDir).length > 0;
  for (const name of removePartialCheckpoints(outDir)) log(`removed ${join(outDir, name)}, left half-written by an interrupted run`);
  const staleFinal = existsSync(outDir) ? readdirSync(outDir).filter((n) => n.startsWith(`.${FINAL_NAME}.tmp-`)) : [];
  for (const n of staleFinal) {
    rmSync(join(outDir, n), { recursive: true, force: true });
    log(`removed ${join(outDir, n)}, left half-written by an interrupted run`);
  }
  const ck = latestCheckpoint(outDir);
  if (ck) log(`resuming from ${ck.dir} (step ${ck.step}); to start over, choose a new output_dir or remove this one`);
  return { createdByUs: !existed };
}

/** After a failure: a folder this run created and that holds no checkpoint to resume from is removed. */
export function cleanupFailedRun(outDir: string, createdByUs: boolean): void {
  if (!createdByUs || !existsSync(outDir) || latestCheckpoint(outDir)) return;
  rmSync(outDir, { recursive: true, force: true });
}

/**
 * Write `outDir/final` from `checkpoint`: its model and tokenizer files, without the optimizer
 * and trainer state. Staged as `.final.tmp-<pid>` and renamed into place.
 */
export function writeFinal(outDir: string, checkpoint: string): string {
  const target = join(outDir, FINAL_NAME);
  const staging = join(outDir, `.${FINAL_NAME}.tmp-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging);
  for (const f of readdirSync(checkpoint)) {
    if (f === OPTIMIZER_NAME || f === TRAINER_STATE_NAME) continue;
    try {
      linkSync(join(checkpoint, f), join(staging, f));
    } catch {
      copyFileSync(join(checkpoint, f), join(staging, f));
    }
  }
  if (existsSync(target)) {
    const old = join(outDir, `.${FINAL_NAME}.tmp-${process.pid}-old`);
    renameSync(target, old);
    renameSync(staging, target);
    rmSync(old, { recursive: true, force: true });
  } else renameSync(staging, target);
  return target;
}

/** Abort `controller` on the first SIGINT (the trainer stops after the current step); returns the uninstaller. */
export function stopOnSigint(controller: AbortController, log: (line: string) => void): () => void {
  const onSigint = () => {
    if (controller.signal.aborted) {
      // A second Ctrl-C during a long step: stop at once. Only complete checkpoints count on resume,
      // and the next run removes the staging folders this leaves.
      log('second interrupt: stopping at once; run the same command again to resume from the last complete checkpoint');
      process.exit(EXIT_INTERRUPTED);
    }
    log('interrupt received: stopping after the current step (Ctrl-C again to stop at once)');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  return () => void process.off('SIGINT', onSigint);
}

/** The one line a SIGINT-stopped run ends with (exit 130). */
export function interruptedError(step: number, checkpoint: string | null, outDir: string): CliError {
  const where = checkpoint ? `the last complete checkpoint is ${checkpoint} (step ${basename(checkpoint).replace('checkpoint-', '')})` : `no checkpoint was written yet (save_every)`;
  const hint = checkpoint ? `run the same command again to resume from ${basename(checkpoint)}; steps after it are repeated exactly` : `run the same command again to start over in ${outDir}`;
  return new CliError(`interrupted after step ${step}; ${where}`, hint, EXIT_INTERRUPTED);
}
