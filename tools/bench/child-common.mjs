/**
 * Shared by the bench's child processes: parse the one JSON argument, run the job, print one
 * JSON line with the result plus this process's own peak RSS on stdout, or the error on stderr
 * with exit code 1.
 *
 * Peak RSS is VmHWM from /proc/self/status (the high-water mark of this process's own address
 * space). `process.resourceUsage().maxRSS` (ru_maxrss) is reported beside it but not used: Linux
 * carries it over fork + exec, so in a child it is at least the parent's RSS at spawn time (the
 * bench's parent holds ~0.5 GB by then), which would hide whether the child itself grows.
 */
import { readFileSync } from 'node:fs';
import { importBuiltPackage } from '../lib/built-package.mjs';

export async function childMain(job) {
  try {
    const args = JSON.parse(process.argv[2] ?? '{}');
    const result = await job(args);
    const maxRssKiB = process.resourceUsage().maxRSS;
    process.stdout.write(`${JSON.stringify({ ...result, peakRssKiB: vmHwmKiB() ?? maxRssKiB, maxRssKiB })}\n`);
    process.exit(0);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}\n`);
    process.exit(1);
  }
}

/** VmHWM of this process in KiB, or undefined where /proc is missing. */
function vmHwmKiB() {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** A built package by folder name (packages/<dir>/dist), every entry point's exports merged. */
export function importPkg(dir) {
  return importBuiltPackage(dir);
}
