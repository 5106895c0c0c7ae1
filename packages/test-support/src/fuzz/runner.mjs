/** Running a fuzz target: cases timed, memory watched, failures counted with reproducers. */
import { UNTYPED } from './mutators.mjs';

// ---------------------------------------------------------------------------------------------

/** Shorten an input for a report line (bytes as hex, bigints as strings). */
export function describeInput(c, max = 600) {
  const s = JSON.stringify(c, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? `hex:${Buffer.from(v).toString('hex')}` : v));
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

class HangError extends Error {
  constructor(ms) {
    super(`case did not settle within ${ms} ms`);
  }
}

/**
 * Run `numRuns` cases of a target. Every case is timed and the process's ArrayBuffer memory is
 * sampled before and after (a lying length that allocates shows up as growth). Failures are
 * counted, not thrown, so one bug does not hide the others; the first few distinct ones are kept
 * with their inputs as reproducers.
 */
export async function runTarget(fc, target, opts = {}) {
  const numRuns = opts.numRuns ?? 500;
  const seed = opts.seed ?? 42;
  const slowMs = opts.slowMs ?? 2000;
  const memLimit = opts.memLimitBytes ?? 256 * 2 ** 20;
  const onCase = opts.onCase ?? (() => {});
  await target.setup?.();
  const stats = { name: target.name, cases: 0, ok: 0, typed: 0, failures: 0, slow: 0, memory: 0, maxMs: 0, maxArrayBufferGrowth: 0, ms: 0, examples: [] };
  const seen = new Set();
  const record = (kind, c, detail) => {
    const key = `${kind}:${detail.split(/[0-9]/)[0].slice(0, 80)}`;
    if (seen.has(key) || stats.examples.length >= (opts.maxExamples ?? 8)) return;
    seen.add(key);
    const ex = { kind, detail, input: describeInput(c) };
    stats.examples.push(ex);
    opts.onExample?.(ex);
  };
  const t0 = performance.now();
  const samples = fc.sample(target.arb, { numRuns, seed });
  // `from`: a watchdog restarting after a hang continues with the next case of the same sequence.
  for (let i = opts.from ?? 0; i < samples.length; i++) {
    const c = samples[i];
    onCase(i, c);
    const ab0 = process.memoryUsage().arrayBuffers;
    const s = performance.now();
    let err = null;
    let timer;
    try {
      // An async case that never settles (a reader waiting forever) is a hang: give up after
      // timeoutMs. A sync loop cannot be interrupted here; fuzz.mjs's worker watchdog covers that.
      const run = Promise.resolve().then(() => target.run(c));
      await (opts.timeoutMs ? Promise.race([run, new Promise((_, rej) => (timer = setTimeout(() => rej(new HangError(opts.timeoutMs)), opts.timeoutMs)))]) : run);
    } catch (e) {
      err = e;
    } finally {
      clearTimeout(timer);
    }
    if (err instanceof HangError) {
      stats.hangs = (stats.hangs ?? 0) + 1;
      record('hang', c, err.message);
      err = null;
      stats.slow++;
    }
    const ms = performance.now() - s;
    const grow = process.memoryUsage().arrayBuffers - ab0;
    stats.cases++;
    stats.maxMs = Math.max(stats.maxMs, ms);
    stats.maxArrayBufferGrowth = Math.max(stats.maxArrayBufferGrowth, grow);
    if (err === null) stats.ok++;
    else if (target.allowed(err)) stats.typed++;
    else {
      stats.failures++;
      const name = err?.constructor?.name ?? typeof err;
      record('untyped', c, `${name}: ${String(err?.message ?? err).split('\n')[0].slice(0, 300)}${opts.stacks && err?.stack ? `\n${err.stack.split('\n').slice(1, 4).join('\n')}` : ''}`);
    }
    if (ms > slowMs) {
      stats.slow++;
      record('slow', c, `case took ${ms.toFixed(0)} ms`);
    }
    if (grow > memLimit) {
      stats.memory++;
      record('memory', c, `ArrayBuffer memory grew by ${(grow / 2 ** 20).toFixed(0)} MB`);
    }
    opts.onOutcome?.({ i, ms, grow, outcome: err === null ? 'ok' : target.allowed(err) ? 'typed' : 'fail', slow: ms > slowMs, memory: grow > memLimit });
  }
  stats.ms = performance.now() - t0;
  await target.teardown?.();
  return stats;
}

/** One line per finding, for a test's failure message. */
export function summarize(stats) {
  const head = `${stats.name}: ${stats.cases} cases, ${stats.ok} accepted, ${stats.typed} typed errors, ${stats.failures} untyped, ${stats.slow} slow, ${stats.memory} memory`;
  return [head, ...stats.examples.map((e) => `  [${e.kind}] ${e.detail} <- ${e.input}`)].join('\n');
}

/** Assert-style check shared by the fuzz tests. */
export function findings(stats) {
  return stats.failures + stats.slow + stats.memory;
}
