/**
 * Every documented command runs: the llama-moe command lines in the fenced code blocks of
 * README.md, docs/*.md and packages/cli/README.md, and every example (and override line) of every
 * `--help`, each run in-process in a temporary copy of a workspace laid out as the docs assume
 * (the repository's configs/ and examples/, plus the models, data and run the quick start makes).
 * Inline `code` in prose is a synopsis with placeholders (DIR, N), not a command, and is not run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { cli } from './helpers.js';
import { COMMANDS } from '../src/registry.js';
import { commandHelp } from '../src/help.js';

const repo = path.resolve(__dirname, '../../..');

/** Commands not run here, each with the reason; everything else documented must run. */
const NOT_RUN: { match: RegExp; why: string }[] = [
  { match: /^demo\b/, why: 'the demo runs minutes; demo.test.ts runs it end to end' },
  { match: /^init --preset llama2-7b\b/, why: 'writes a 2 GB model; the bench runs it' },
];

/** `llama-moe …` lines of fenced code blocks (any of the three ways the docs invoke the CLI). */
export function fencedCommands(markdown: string): string[] {
  const out: string[] = [];
  let inFence = false;
  for (const raw of markdown.split('\n')) {
    if (/^\s*```/.test(raw)) {
      inFence = !inFence;
      continue;
    }
    if (!inFence) continue;
    const m = /^\s*(?:npm run(?: -s| --silent)? llama-moe --|npx llama-moe|node packages\/cli\/bin\/llama-moe\.mjs|llama-moe)\s+(.*)$/.exec(raw);
    if (m) out.push(stripComment(m[1]!));
  }
  return out;
}

/**
 * Command lines of a `--help` text: the lines starting `llama-moe ` in its Examples section and in
 * the notes sections (`sections`), not in Usage or in wrapped option descriptions.
 */
function helpCommands(help: string, sections: readonly string[] = []): string[] {
  const out: string[] = [];
  const wanted = new Set(['Examples:', ...sections.map((t) => `${t}:`)]);
  let section = '';
  for (const line of help.split('\n')) {
    if (/^\S.*:$/.test(line)) section = line;
    else if (wanted.has(section) && /^\s+llama-moe /.test(line)) out.push(stripComment(line.trim().slice('llama-moe '.length)));
  }
  return out;
}

function stripComment(line: string): string {
  let q: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (q) { if (c === q) q = null; continue; }
    if (c === '"' || c === "'") q = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i).trim();
  }
  return line.trim();
}

/** Shell words with single and double quotes (no expansion; pipes and redirections are refused). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur = '', q: string | null = null, has = false;
  for (const c of line) {
    if (q) {
      if (c === q) q = null;
      else cur += c;
    } else if (c === '"' || c === "'") { q = c; has = true; }
    else if (/\s/.test(c)) { if (has || cur) words.push(cur); cur = ''; has = false; }
    else if ('|<>;&$`'.includes(c)) throw new Error(`shell syntax '${c}' in a documented command: ${line}`);
    else cur += c;
  }
  if (q) throw new Error(`unclosed quote in: ${line}`);
  if (has || cur) words.push(cur);
  return words;
}

/** What a command writes (removed first, so that each documented command starts as on a fresh clone). */
function outputOf(argv: string[], cwd: string): string | null {
  const flag = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1]! : null;
  };
  if (argv[0] === 'train') {
    if (argv.includes('--print-config')) return null;
    const over = flag('--output-dir');
    if (over) return over;
    const conf = fs.readFileSync(path.join(cwd, flag('--config')!), 'utf8');
    return /^output_dir:\s*(\S+)/m.exec(conf)![1]!;
  }
  return flag('--out');
}

let base: string;
const work: string[] = [];

async function runIn(cwd: string, line: string): Promise<void> {
  // `... --json | jq FILTER` is run without the pipe; what jq would read must then be JSON.
  const pipe = /^(.*?)\s*\|\s*jq\s+\S+\s*$/.exec(line);
  if (pipe) line = pipe[1]!;
  const argv = shellWords(line);
  const out = outputOf(argv, cwd);
  if (out) fs.rmSync(path.join(cwd, out), { recursive: true, force: true });
  const here = process.cwd();
  process.chdir(cwd);
  try {
    const r = await cli([...argv, '--quiet']);
    expect(r.code, `llama-moe ${line}\n${r.stderr}`).toBe(0);
    if (pipe) expect(() => JSON.parse(r.stdout), `llama-moe ${line} | jq: stdout is not JSON`).not.toThrow();
  } finally {
    process.chdir(here);
  }
}

function workspace(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llama-moe-docs-'));
  fs.cpSync(base, dir, { recursive: true });
  work.push(dir);
  return dir;
}

const SETUP = [
  'init --preset tiny --out models/tiny',
  'data prepare --input examples/slimpajama-sample --tokenizer models/tiny/tokenizer.json --seq-len 128 --out data/packed',
  'split --model models/tiny --out models/tiny-moe --experts 4 --top-k 2 --method random',
  'train --config configs/tiny-moe.yaml',
];

beforeAll(async () => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'llama-moe-docs-base-'));
  for (const d of ['configs', 'examples']) fs.cpSync(path.join(repo, d), path.join(base, d), { recursive: true });
  // The shipped models the docs name (packages/cli/assets/...), read in place.
  fs.mkdirSync(path.join(base, 'packages', 'cli'), { recursive: true });
  fs.symlinkSync(path.join(repo, 'packages', 'cli', 'assets'), path.join(base, 'packages', 'cli', 'assets'));
  for (const line of SETUP) await runIn(base, line);
}, 300_000);
afterAll(() => {
  for (const d of [base, ...work]) fs.rmSync(d, { recursive: true, force: true });
});

function runnable(lines: string[]): string[] {
  return lines.filter((l) => !NOT_RUN.some((n) => n.match.test(l)));
}

const docs = ['README.md', 'packages/cli/README.md', ...fs.readdirSync(path.join(repo, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

describe('documented commands', () => {
  test('the docs invoke the CLI in a way that works after `npm test` set the repository up', () => {
    for (const doc of docs) expect(fs.readFileSync(path.join(repo, doc), 'utf8'), doc).not.toMatch(/pnpm llama-moe/);
    expect(fencedCommands(fs.readFileSync(path.join(repo, 'README.md'), 'utf8')).length).toBeGreaterThanOrEqual(8);
    // `npm run llama-moe -- …` is the root package's script running this package's bin.
    const rootPkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8'));
    expect(rootPkg.scripts['llama-moe']).toBe('node packages/cli/bin/llama-moe.mjs');
  });

  for (const doc of docs) {
    const lines = runnable(fencedCommands(fs.readFileSync(path.join(repo, doc), 'utf8')));
    if (lines.length === 0) continue;
    test(`every command of ${doc} runs, in order, in a fresh workspace`, async () => {
      const ws = workspace();
      for (const line of lines) await runIn(ws, line);
    }, 300_000);
  }

  for (const spec of COMMANDS) {
    const lines = runnable(helpCommands(commandHelp(spec), Object.keys(spec.notes ?? {})));
    if (lines.length === 0) continue;
    test(`every example of 'llama-moe ${spec.name} --help' runs`, async () => {
      for (const line of lines) await runIn(workspace(), line);
    }, 300_000);
  }

  test('what is not run is only what NOT_RUN names, and every NOT_RUN entry still matches a documented command', () => {
    const all = [...docs.flatMap((d) => fencedCommands(fs.readFileSync(path.join(repo, d), 'utf8'))), ...COMMANDS.flatMap((c) => helpCommands(commandHelp(c), Object.keys(c.notes ?? {})))];
    for (const n of NOT_RUN) expect(all.some((l) => n.match.test(l)), n.why).toBe(true);
  });
});
