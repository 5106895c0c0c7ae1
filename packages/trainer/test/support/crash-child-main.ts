/** Entry point bundled by the SIGKILL test. */
import { runCrashChild } from './crash-child.js';

runCrashChild(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
