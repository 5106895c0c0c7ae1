// Which Node flags the compute-heavy commands run under, and the re-run that applies them.
//
// Why: training keeps both cores of a small machine busy in onnxruntime's GEMM threads (one per
// core), and onnxruntime-node hands every GEMM output back as a fresh ArrayBuffer (~1 GB in ~2,000
// calls per stories110M-shaped step), so V8 collects often. Its concurrent marking and sweeping
// run on helper threads while JavaScript runs and take cores from the GEMM threads; a GEMM waits
// for its slowest thread. With them off (GC pauses stay parallel: the GEMM threads are idle then)
// a stories110M-shaped 4-of-16 MoE training step ran 10–25 % faster on the 2-core reference
// machine (interleaved runs: 60–74 GFLOP/s without, 73–85 with; --single-threaded-gc, which also
// serialises the pauses, 68–83). V8 takes these flags only at startup (v8.setFlagsFromString
// aborts on some of them), so the bin re-runs itself in a child node.
import { spawnSync } from 'node:child_process';

/** The flags, in the order they are passed to node. */
export const COMPUTE_NODE_FLAGS = Object.freeze(['--no-concurrent-marking', '--no-concurrent-sweeping', '--no-concurrent-array-buffer-sweeping']);

/** Commands that train (GEMM threads on every core for minutes): they run under COMPUTE_NODE_FLAGS. */
export const COMPUTE_COMMANDS = Object.freeze(['train', 'demo']);

/** Environment switch: LLAMA_MOE_NODE_FLAGS=off keeps node's defaults (no re-run). */
export const NODE_FLAGS_ENV = 'LLAMA_MOE_NODE_FLAGS';

/** Set to 1 in the re-run child's environment (it then watches its parent; never re-runs again). */
export const RERUN_ENV = 'LLAMA_MOE_RERUN';

/**
 * The command named by argv (the first token that is not an option; global options may come
 * first, `llama-moe --debug train …`), or null.
 * @param {readonly string[]} argv
 */
export function commandOf(argv) {
  for (const a of argv) {
    if (a === '--') return null;
    if (!a.startsWith('-')) return a;
  }
  return null;
}

/**
 * The node arguments to re-run this script with, or null to run in this process: null unless the
 * command is a compute command, the flags are not all set yet, and the environment does not opt out.
 * @param {{ argv: readonly string[], execArgv: readonly string[], env: Record<string, string | undefined>, script: string }} p
 * @returns {string[] | null}
 */
export function rerunArgs({ argv, execArgv, env, script }) {
  const cmd = commandOf(argv);
  if (cmd === null || !COMPUTE_COMMANDS.includes(cmd)) return null;
  if (env[NODE_FLAGS_ENV] === 'off' || env[RERUN_ENV] === '1') return null;
  const missing = COMPUTE_NODE_FLAGS.filter((f) => !execArgv.includes(f));
  if (missing.length === 0) return null;
  return [...missing, ...execArgv, script, ...argv];
}

/**
 * Whether this node accepts the flags (a V8 that dropped one would make node refuse to start).
 * @param {string} execPath
 * @param {readonly string[]} flags
 */
export function nodeAcceptsFlags(execPath, flags) {
  const r = spawnSync(execPath, [...flags, '-e', '0'], { stdio: 'ignore', timeout: 30_000 });
  return r.status === 0;
}
