import { readdir, stat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError, WeightError } from './errors.js';
import { detectFormat, readArrowTokens, readTextRecords } from './readers/index.js';
import type { ReaderCursor, TextFormat } from './readers/types.js';

/**
 * One domain's data: files on disk (any supported format) or in-memory documents.
 * `format: 'tokens'` means pre-tokenised Arrow rows (`input_ids`) used verbatim, no BOS added.
 */
export interface DomainSource {
  name: string;
  files?: string[];
  documents?: readonly string[];
  format?: TextFormat | 'tokens';
  /** Text column / JSON key. Default `text`. */
  textColumn?: string;
  /** Plain text: 'document' (default) or 'paragraph'. */
  textMode?: 'document' | 'paragraph';
  /** Token column for format 'tokens'. Default `input_ids`. */
  tokensColumn?: string;
  /**
   * Per-file start cursors (keyed by path; `#documents` for in-memory documents): records before
   * them are skipped in every epoch. How a held-out validation prefix stays out of training.
   */
  startCursors?: Record<string, ReaderCursor>;
}

export const DOCUMENTS_KEY = '#documents';

/** A record from a source: either text to tokenise or ids to use verbatim. */
export interface SourceRecord {
  text?: string;
  /** [L] */
  inputIds?: Int32Array;
  cursor: ReaderCursor;
}

export function checkSource(s: DomainSource): void {
  if (!s || typeof s.name !== 'string' || s.name.length === 0) throw new DataError('argument', 'sources: every source needs a non-empty name');
  const nFiles = s.files?.length ?? 0;
  const nDocs = s.documents?.length ?? 0;
  if (s.files && s.documents) throw new DataError('argument', `sources: domain "${s.name}" has both files and documents; give one`);
  if (nFiles === 0 && nDocs === 0) {
    throw new WeightError('domain', s.name, `sources: domain "${s.name}" is empty (no files, no documents); add data or drop the domain`);
  }
}

/** The unit a source is read in: file paths, or the single in-memory document list. */
export function sourceUnits(s: DomainSource): string[] {
  return s.documents ? [DOCUMENTS_KEY] : [...(s.files ?? [])];
}

/** Streams records of one unit starting at `start` (or the source's start cursor for it). */
export async function* openUnit(s: DomainSource, unit: string, start: ReaderCursor | null): AsyncGenerator<SourceRecord> {
  const from = start ?? s.startCursors?.[unit] ?? null;
  if (unit === DOCUMENTS_KEY) {
    const docs = s.documents ?? [];
    for (let i = from?.row ?? 0; i < docs.length; i++) {
      const text = docs[i];
      if (typeof text !== 'string') throw new DataError('column', `sources: domain "${s.name}" document ${i} is ${typeof text}, expected a string`);
      yield { text, cursor: { row: i + 1 } };
    }
    return;
  }
  if (s.format === 'tokens') {
    for await (const r of readArrowTokens(unit, { column: s.tokensColumn, start: from ?? undefined })) yield { inputIds: r.inputIds, cursor: r.cursor };
    return;
  }
  const gen = readTextRecords(unit, { format: s.format as TextFormat | undefined, textColumn: s.textColumn, textMode: s.textMode, start: from ?? undefined });
  for await (const r of gen) yield { text: r.text, cursor: r.cursor };
}

const SUPPORTED = /\.(jsonl|ndjson|json|txt|md|text|arrow|ipc|feather|arrows|parquet)$/i;

/**
 * Domains from sub-folders: `dir/<domain>/*.{jsonl,txt,arrow,parquet}` (the layout writeCorpus
 * produces and SlimPajama-style dumps use). Files are sorted by name for a stable order.
 */
export async function sourcesFromDir(dir: string, opts: { textColumn?: string; textMode?: 'document' | 'paragraph'; format?: TextFormat } = {}): Promise<DomainSource[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw new DataError('argument', `${dir}: cannot list data folder (${(e as Error).message}); pass a folder with one sub-folder per domain`);
  }
  const out: DomainSource[] = [];
  for (const e of entries.filter((x) => x.isDirectory() && !x.name.startsWith('.')).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const sub = join(dir, e.name);
    const files = (await readdir(sub)).filter((f) => SUPPORTED.test(f) && !f.startsWith('.')).sort().map((f) => join(sub, f));
    if (files.length === 0) throw new WeightError('domain', e.name, `${sub}: domain "${e.name}" has no data files (.jsonl, .txt, .arrow, .parquet); add some or remove the folder`);
    for (const f of files) detectFormat(f);
    out.push({ name: e.name, files, ...opts });
  }
  if (out.length === 0) throw new WeightError('domain', undefined, `${dir}: no domain sub-folders; expected ${dir}/<domain>/*.jsonl`);
  return out;
}

/** File size in bytes (0 for missing), used for progress and bench accounting. */
export async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

export async function readJsonFile<T>(path: string, what: string): Promise<T> {
  let text;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new DataError('argument', `${path}: cannot read ${what} (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new DataError('read', `${path}: ${what} is not valid JSON (${(e as Error).message})`);
  }
}
