/**
 * Every output is built under a staging name beside its target and renamed into place when
 * complete (see docs/cli.md). A kill (SIGKILL, power loss) can leave that staging folder behind;
 * the next run that writes the same target removes it, and says so. Staging names:
 *
 *   .NAME.partial-<pid>[-<time>]   model folders (saveModelFolder), export
 *   .NAME.tmp-<pid>-<hex>          packed datasets (data prepare)
 *   NAME.tmp-<pid>                 single files (logits .npy)
 *
 * A leftover is removed only when the process that made it is gone, so two commands writing
 * beside each other never remove each other's work in progress.
 */
import { readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whether process `pid` is alive (EPERM: alive, owned by someone else). */
function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The staging leftovers of earlier, dead runs that wrote `target`. */
export function staleStaging(target: string): string[] {
  const abs = resolve(target);
  const dir = dirname(abs);
  const name = escapeRe(basename(abs));
  const re = new RegExp(`^(?:\\.${name}\\.(?:partial|tmp)|${name}\\.tmp)-(\\d+)(?:-[\\w-]+)?$`);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    const m = re.exec(e);
    if (m && !alive(Number(m[1]))) out.push(join(dir, e));
  }
  return out;
}

/** Remove the leftovers of `target`; one line per removal through `log`. */
export function removeStaleStaging(target: string, log: (line: string) => void): string[] {
  const found = staleStaging(target);
  for (const p of found) {
    rmSync(p, { recursive: true, force: true });
    log(`removed ${p}, left half-written by an interrupted run`);
  }
  return found;
}
