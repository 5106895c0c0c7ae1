/** Shared test helpers: run the CLI in-process and capture its streams; temp folders; a tiny model. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../src/main.js';
import { memoryIO } from '../src/io.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(argv: string[], opts: { isTTY?: boolean; progressIntervalMs?: number } = {}): Promise<RunResult> {
  const io = memoryIO(opts);
  const code = await main(argv, io);
  return { code, stdout: io.stdoutText(), stderr: io.stderrText() };
}

export function tempDir(prefix = 'llama-moe-cli-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Every path under `dir`, relative, sorted (to prove nothing was written). */
export function listTree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      out.push(path.relative(dir, p));
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** Write the tiny preset once per test file. */
export async function tinyModel(root: string, extra: string[] = []): Promise<string> {
  const dir = path.join(root, 'tiny');
  const r = await cli(['init', '--preset', 'tiny', '--out', dir, '--quiet', ...extra]);
  if (r.code !== 0) throw new Error(`init failed: ${r.stderr}`);
  return dir;
}
