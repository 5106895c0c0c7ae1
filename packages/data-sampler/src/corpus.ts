import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError } from './errors.js';
import { Rng } from './rng.js';
import { SLIMPAJAMA_DOMAINS, type SlimPajamaDomain } from './weights.js';
import { writeFileAtomic } from './writer.js';

/**
 * A deterministic, license-clean synthetic corpus for the seven SlimPajama domains. Every word
 * list and template below was written for this package. Each domain has its own vocabulary and
 * grammar (templates with slots), so a tiny LM's loss falls quickly when trained on it, and the
 * domains differ enough (code vs. LaTeX vs. dialogue vs. web boilerplate) that the mixture
 * weights visibly change what the model learns.
 */
export interface CorpusDomain {
  name: string;
  documents: string[];
}

export interface SyntheticCorpus {
  seed: number | string;
  domains: CorpusDomain[];
}

export interface GenerateCorpusOptions {
  seed: number | string;
  /** Documents per domain. Default 200 unless targetBytes is given. */
  docsPerDomain?: number;
  /** Size knob: generate until the whole corpus holds about this many UTF-8 bytes (split evenly over domains). */
  targetBytes?: number;
  /** Which domains (default: all seven SlimPajama domains). */
  domains?: readonly SlimPajamaDomain[];
}

// ---------------------------------------------------------------- shared word lists
const FIRST = ['Ada', 'Bram', 'Celia', 'Dorin', 'Elsa', 'Farid', 'Greta', 'Hugo', 'Ines', 'Jonas', 'Kira', 'Lior', 'Mira', 'Nils', 'Odile', 'Pavel', 'Quinn', 'Rosa', 'Soren', 'Talia', 'Ugo', 'Vera', 'Wim', 'Yara'];
const LAST = ['Marrow', 'Fenwick', 'Ostrand', 'Kellam', 'Brightwater', 'Halloway', 'Vance', 'Toller', 'Quist', 'Ravel', 'Sandoval', 'Ember', 'Lindqvist', 'Moreau', 'Achterberg'];
const CITIES = ['Valdora', 'Port Emmet', 'Kessling', 'Northmere', 'Altavista', 'Brennholm', 'Caldera Bay', 'Ostwick', 'Lumen', 'Sarrow'];
const COUNTRIES = ['Valdoria', 'the Kessling Republic', 'Northmere', 'the Eastern Isles', 'Altavia'];
const NATIONALITY = ['Valdorian', 'Kesslinger', 'Northmerian', 'Altavian', 'Islander'];
const PROFESSIONS = ['botanist', 'cartographer', 'composer', 'engineer', 'astronomer', 'linguist', 'architect', 'chemist', 'historian', 'painter'];
const FIELDS = ['botany', 'mathematics', 'music theory', 'civil engineering', 'astronomy', 'linguistics', 'architecture', 'chemistry', 'medieval history', 'fine art'];
const THINGS = ['lighthouse', 'river', 'library', 'bridge', 'market', 'orchard', 'harbor', 'observatory', 'garden', 'mill'];
const ADJ = ['quiet', 'ancient', 'narrow', 'bright', 'cold', 'crowded', 'distant', 'green', 'hidden', 'tall', 'small', 'old'];
const COLORS = ['red', 'blue', 'grey', 'golden', 'white', 'dark', 'silver', 'green'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

type Gen = (r: Rng) => string;
const pick = <T>(r: Rng, xs: readonly T[]): T => r.pick(xs);
const int = (r: Rng, lo: number, hi: number): number => lo + r.nextInt(hi - lo + 1);
const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
const person = (r: Rng): string => `${pick(r, FIRST)} ${pick(r, LAST)}`;
const repeat = (r: Rng, lo: number, hi: number, g: Gen, sep: string): string => {
  const n = int(r, lo, hi);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(g(r));
  return out.join(sep);
};

// ---------------------------------------------------------------- wikipedia: encyclopedic
const wikiSentence: Gen[] = [
  (r) => `${pick(r, CITIES)} is a ${pick(r, ['town', 'city', 'port', 'village'])} in ${pick(r, COUNTRIES)}, with a population of ${int(r, 2, 900) * 1000} as of ${int(r, 1990, 2020)}.`,
  (r) => `The ${pick(r, THINGS)} of ${pick(r, CITIES)} was built in ${int(r, 1200, 1950)} and restored in ${int(r, 1960, 2015)}.`,
  (r) => `It is known for its ${pick(r, ADJ)} ${pick(r, THINGS)} and its annual ${pick(r, ['festival', 'fair', 'regatta', 'market'])} held in ${pick(r, MONTHS)}.`,
  (r) => `The economy is based on ${pick(r, ['fishing', 'trade', 'tourism', 'farming', 'shipbuilding', 'textiles'])} and ${pick(r, ['fishing', 'trade', 'tourism', 'farming', 'mining', 'education'])}.`,
  (r) => `In ${int(r, 1500, 1990)}, the ${pick(r, ['council', 'university', 'railway', 'museum'])} of ${pick(r, CITIES)} was founded by ${person(r)}.`,
  (r) => `The climate is ${pick(r, ['temperate', 'mild', 'continental', 'oceanic', 'dry'])}, with an average temperature of ${int(r, 4, 24)} °C.`,
];
const article = (w: string): string => (/^[AEIOU]/.test(w) ? 'an' : 'a');
const wikiBio = (r: Rng, who: string): string => {
  const born = int(r, 1700, 1950);
  const field = r.nextInt(PROFESSIONS.length);
  const nat = pick(r, NATIONALITY);
  return `${who} (${born}–${born + int(r, 40, 90)}) was ${article(nat)} ${nat} ${PROFESSIONS[field]}. ${who.split(' ')[0]} studied ${FIELDS[field]} at the University of ${pick(r, CITIES)} and later worked in ${pick(r, CITIES)}.`;
};
const wikipedia: Gen = (r) => {
  const isBio = r.nextFloat() < 0.5;
  const title = isBio ? person(r) : pick(r, CITIES);
  const parts = [title, ''];
  parts.push(isBio ? wikiBio(r, title) : repeat(r, 1, 2, (q) => pick(q, wikiSentence)(q), ' '));
  for (const h of ['History', 'Geography', 'Culture'].slice(0, int(r, 1, 3))) {
    parts.push('', `== ${h} ==`, repeat(r, 2, 4, (q) => pick(q, wikiSentence)(q), ' '));
  }
  return parts.join('\n');
};

// ---------------------------------------------------------------- book: narrative
const SAID = ['said', 'whispered', 'asked', 'replied', 'muttered', 'called'];
const LINES = ['We should leave before dark', 'Have you seen the map', 'The door was open when I came', 'I never meant to stay this long', 'Listen to the wind', 'Tell me what you found', 'It is colder than yesterday'];
const MOVES = ['walked', 'ran', 'climbed', 'wandered', 'hurried', 'drifted'];
const bookSentence: Gen[] = [
  (r) => `${pick(r, FIRST)} ${pick(r, MOVES)} ${pick(r, ['through', 'across', 'along', 'past', 'towards'])} the ${pick(r, ADJ)} ${pick(r, THINGS)}.`,
  (r) => `"${pick(r, LINES)}," ${pick(r, FIRST)} ${pick(r, SAID)}.`,
  (r) => `The sky above ${pick(r, CITIES)} was ${pick(r, COLORS)}, and the ${pick(r, THINGS)} stood ${pick(r, ['silent', 'empty', 'waiting', 'still'])}.`,
  (r) => `For a long moment nobody spoke, and ${pick(r, FIRST)} thought of the ${pick(r, ADJ)} ${pick(r, THINGS)} at home.`,
  (r) => `${pick(r, FIRST)} ${pick(r, ['smiled', 'frowned', 'nodded', 'laughed', 'sighed'])} and ${pick(r, ['looked away', 'closed the book', 'lit the lamp', 'opened the window'])}.`,
];
const ROMAN = ['I', 'II', 'III', 'IV', 'V', 'VI', 'VII', 'VIII', 'IX', 'X', 'XI', 'XII'];
const book: Gen = (r) => {
  const paras = repeat(r, 2, 4, (q) => repeat(q, 3, 5, (p) => pick(p, bookSentence)(p), ' '), '\n\n');
  return `Chapter ${pick(r, ROMAN)}\n\n${paras}`;
};

// ---------------------------------------------------------------- arxiv: math with LaTeX
const VARS = ['x', 'y', 'z', 'u', 'v', 't', 'n', 'k'];
const SETS = ['\\mathbb{R}', '\\mathbb{N}', '\\mathbb{Z}', '\\mathbb{C}', '\\mathcal{H}'];
const OBJ = ['operator', 'manifold', 'estimator', 'graph', 'lattice', 'kernel', 'sequence', 'polynomial'];
const math: Gen[] = [
  (r) => `\\sum_{i=1}^{${pick(r, ['n', 'N', 'k'])}} ${pick(r, VARS)}_i^{${int(r, 2, 4)}}`,
  (r) => `\\int_0^{${int(r, 1, 9)}} ${pick(r, VARS)}^{${int(r, 1, 5)}} \\, d${pick(r, VARS)}`,
  (r) => `\\| ${pick(r, VARS)} - ${pick(r, VARS)}^\\star \\|_2 \\leq ${int(r, 1, 9)} \\epsilon`,
  (r) => `\\frac{${int(r, 1, 9)}}{${int(r, 2, 12)}} \\log ${pick(r, ['n', 'd', 'T'])}`,
  (r) => `${pick(r, VARS)} \\in ${pick(r, SETS)}^{${pick(r, ['n', 'd', 'm'])}}`,
];
const arxivSentence: Gen[] = [
  (r) => `We study the ${pick(r, ADJ)} ${pick(r, OBJ)} $${pick(r, math)(r)}$ and show that it is ${pick(r, ['bounded', 'convex', 'compact', 'stable', 'sparse'])}.`,
  (r) => `Let $${pick(r, math)(r)}$ and suppose that $${pick(r, math)(r)}$.`,
  (r) => `\\begin{theorem} For every $n \\geq ${int(r, 1, 5)}$, we have $${pick(r, math)(r)} = O(${pick(r, ['n', 'n^2', '\\log n', '\\sqrt{n}'])})$. \\end{theorem}`,
  (r) => `By Lemma ${int(r, 1, 9)}, the ${pick(r, OBJ)} converges at rate $${pick(r, math)(r)}$.`,
  (r) => `The proof follows from the ${pick(r, ['Cauchy-Schwarz', 'triangle', 'Jensen', 'Holder'])} inequality applied to $${pick(r, math)(r)}$.`,
];
const arxiv: Gen = (r) => {
  const secs = ['Introduction', 'Preliminaries', 'Main Results', 'Proofs'].slice(0, int(r, 2, 4));
  return secs.map((s) => `\\section{${s}}\n${repeat(r, 2, 4, (q) => pick(q, arxivSentence)(q), ' ')}`).join('\n\n');
};

// ---------------------------------------------------------------- github: JS / Python code
const VERB = ['get', 'load', 'parse', 'build', 'compute', 'update', 'render', 'find', 'merge', 'validate'];
const NOUN = ['user', 'config', 'item', 'order', 'token', 'node', 'cache', 'record', 'matrix', 'event'];
const ident = (r: Rng): string => `${pick(r, VERB)}${cap(pick(r, NOUN))}`;
const snake = (r: Rng): string => `${pick(r, VERB)}_${pick(r, NOUN)}`;
const jsFn: Gen = (r) => {
  const name = ident(r);
  const a = pick(r, NOUN);
  const b = `${pick(r, NOUN)}s`;
  const body = pick(r, [
    () => `  const result = [];\n  for (const ${a} of ${b}) {\n    if (${a}.${pick(r, ['id', 'size', 'count'])} > ${int(r, 0, 9)}) {\n      result.push(${a});\n    }\n  }\n  return result;`,
    () => `  if (!${b}) {\n    throw new Error('${name}: missing ${b}');\n  }\n  return ${b}.map((${a}) => ${a}.${pick(r, ['id', 'name', 'value'])});`,
    () => `  let total = 0;\n  for (let i = 0; i < ${b}.length; i++) {\n    total += ${b}[i].${pick(r, ['value', 'weight', 'count'])};\n  }\n  return total / ${b}.length;`,
  ])();
  return `export function ${name}(${b}) {\n${body}\n}`;
};
const pyFn: Gen = (r) => {
  const name = snake(r);
  const a = pick(r, NOUN);
  const b = `${pick(r, NOUN)}s`;
  const body = pick(r, [
    () => `    result = []\n    for ${a} in ${b}:\n        if ${a}.${pick(r, ['id', 'size', 'count'])} > ${int(r, 0, 9)}:\n            result.append(${a})\n    return result`,
    () => `    if not ${b}:\n        raise ValueError("${name}: empty ${b}")\n    return [${a}.${pick(r, ['id', 'name', 'value'])} for ${a} in ${b}]`,
    () => `    total = 0\n    for i in range(len(${b})):\n        total += ${b}[i].${pick(r, ['value', 'weight', 'count'])}\n    return total / len(${b})`,
  ])();
  return `def ${name}(${b}):\n    """${cap(pick(r, VERB))} the ${pick(r, NOUN)}s."""\n${body}`;
};
const github: Gen = (r) => {
  if (r.nextFloat() < 0.5) {
    return `// ${pick(r, NOUN)}/${pick(r, VERB)}.js\nimport { ${ident(r)} } from './${pick(r, NOUN)}.js';\n\n${repeat(r, 1, 3, jsFn, '\n\n')}\n`;
  }
  return `# ${pick(r, NOUN)}/${pick(r, VERB)}.py\nimport ${pick(r, ['os', 'json', 'math', 're'])}\n\n\n${repeat(r, 1, 3, pyFn, '\n\n\n')}\n`;
};

// ---------------------------------------------------------------- stackexchange: Q/A
const LANGS = ['Python', 'JavaScript', 'Rust', 'Bash', 'SQL', 'LaTeX'];
const TASKS = ['sort a list of records by date', 'read a file line by line', 'merge two dictionaries', 'remove duplicates from an array', 'format a number with commas', 'parse a date string'];
const ERRORS = ['a type error', 'an index out of range error', 'a syntax error', 'an empty result', 'a permission denied error'];
const stackexchange: Gen = (r) => {
  const lang = pick(r, LANGS);
  const task = pick(r, TASKS);
  const q = `Q: How do I ${task} in ${lang}?\n\nI tried ${pick(r, ['a for loop', 'a regular expression', 'the built-in function', 'a recursive helper'])} but I get ${pick(r, ERRORS)} when the input is ${pick(r, ['empty', 'very large', 'not sorted', 'unicode text'])}. What am I missing?`;
  const answers = repeat(
    r,
    1,
    2,
    (p) =>
      `A: You need to ${pick(p, ['check the length first', 'convert the values before comparing', 'use the standard library', 'close the file handle', 'escape the special characters'])}. ${pick(p, ['This works because', 'Note that', 'In my experience,'])} ${pick(p, ['the loop runs once per element', 'the function returns a new copy', 'errors are raised early', 'the order is preserved'])}. (score: ${int(p, 0, 120)})`,
    '\n\n',
  );
  return `${q}\n\n${answers}`;
};

// ---------------------------------------------------------------- c4: clean web text
const PRODUCTS = ['garden tools', 'running shoes', 'coffee beans', 'bike repairs', 'wedding flowers', 'dental care', 'used books', 'kitchen tiles'];
const c4Sentence: Gen[] = [
  (r) => `Looking for the best ${pick(r, PRODUCTS)} in ${pick(r, CITIES)}? You have come to the right place.`,
  (r) => `Our ${pick(r, ['friendly', 'experienced', 'local', 'dedicated'])} team has been serving customers since ${int(r, 1970, 2019)}.`,
  (r) => `We offer ${pick(r, ['free delivery', 'same-day service', 'a money-back guarantee', 'great prices'])} on all ${pick(r, PRODUCTS)}.`,
  (r) => `Click here to learn more about our ${pick(r, ['services', 'prices', 'opening hours', 'latest offers'])}.`,
  (r) => `Many of our customers say it is the ${pick(r, ['best', 'easiest', 'most reliable', 'friendliest'])} ${pick(r, ['shop', 'service', 'experience'])} in town.`,
  (r) => `Contact us today for a free quote!`,
];
const c4: Gen = (r) => repeat(r, 4, 8, (q) => pick(q, c4Sentence)(q), ' ');

// ---------------------------------------------------------------- cc: noisy web crawl
const cc: Gen = (r) => {
  const nav = pick(r, ['Home | About | Blog | Contact', 'Menu  Search  Login  Cart (0)', 'Skip to content | News | Sports | Weather']);
  const title = `${cap(pick(r, ADJ))} ${pick(r, THINGS)} ${pick(r, ['reopens', 'closes', 'wins award', 'gets new owner'])} in ${pick(r, CITIES)}`;
  const date = `${pick(r, MONTHS)} ${int(r, 1, 28)}, ${int(r, 2005, 2023)}`;
  const body = repeat(
    r,
    3,
    6,
    (q) =>
      pick(q, [
        (p: Rng) => `The ${pick(p, THINGS)} on ${pick(p, ['Main', 'Harbor', 'Mill', 'Church'])} Street ${pick(p, ['will reopen', 'was sold', 'is closed'])} ${pick(p, ['next week', 'this spring', 'after repairs'])}.`,
        (p: Rng) => `Tickets cost $${int(p, 5, 60)}.${pick(p, ['00', '50', '99'])} and are available online.`,
        (p: Rng) => `"${pick(p, LINES)}," a local resident told us.`,
        (p: Rng) => `Read more: ${pick(p, ADJ)} ${pick(p, THINGS)}s of ${pick(p, COUNTRIES)}`,
      ])(q),
    '\n',
  );
  const comments = repeat(r, 0, 2, (q) => `${pick(q, FIRST).toLowerCase()}${int(q, 1, 99)} says: ${pick(q, ['great article', 'first!', 'I was there last year', 'thanks for sharing'])}`, '\n');
  return `${nav}\n${title}\nPosted on ${date} by ${pick(r, FIRST).toLowerCase()}_${pick(r, LAST).toLowerCase()}\n${body}${comments ? `\n${comments}` : ''}\n© ${int(r, 2010, 2024)} All rights reserved.`;
};

const GENERATORS: Record<SlimPajamaDomain, Gen> = { cc, c4, github, book, arxiv, wikipedia, stackexchange };

/** SlimPajama `meta.redpajama_set_name` for each domain, written into JSONL like the real dumps. */
export const REDPAJAMA_SET_NAME: Record<SlimPajamaDomain, string> = {
  cc: 'RedPajamaCommonCrawl',
  c4: 'RedPajamaC4',
  github: 'RedPajamaGithub',
  book: 'RedPajamaBook',
  arxiv: 'RedPajamaArXiv',
  wikipedia: 'RedPajamaWikipedia',
  stackexchange: 'RedPajamaStackExchange',
};

/** Deterministic: the same options always give byte-identical documents. */
export function generateCorpus(opts: GenerateCorpusOptions): SyntheticCorpus {
  const domains = opts.domains ?? SLIMPAJAMA_DOMAINS;
  for (const d of domains) {
    if (!(d in GENERATORS)) throw new DataError('argument', `generateCorpus: unknown domain "${d}"; use ${SLIMPAJAMA_DOMAINS.join(', ')}`);
  }
  if (opts.docsPerDomain !== undefined && (!Number.isInteger(opts.docsPerDomain) || opts.docsPerDomain < 1)) {
    throw new DataError('argument', `generateCorpus: docsPerDomain must be a positive integer, got ${opts.docsPerDomain}`);
  }
  if (opts.targetBytes !== undefined && !(opts.targetBytes > 0)) throw new DataError('argument', `generateCorpus: targetBytes must be positive, got ${opts.targetBytes}`);
  const enc = new TextEncoder();
  const perDomainBytes = opts.targetBytes !== undefined ? opts.targetBytes / domains.length : Infinity;
  const maxDocs = opts.docsPerDomain ?? (opts.targetBytes !== undefined ? Infinity : 200);
  return {
    seed: opts.seed,
    domains: domains.map((name) => {
      const r = Rng.seeded(opts.seed, `corpus/${name}`);
      const g = GENERATORS[name];
      const documents: string[] = [];
      let bytes = 0;
      while (documents.length < maxDocs && bytes < perDomainBytes) {
        const d = g(r);
        documents.push(d);
        bytes += enc.encode(d).length;
      }
      return { name, documents };
    }),
  };
}

/** Total UTF-8 bytes of a corpus' documents. */
export function corpusBytes(c: SyntheticCorpus): number {
  const enc = new TextEncoder();
  let n = 0;
  for (const d of c.domains) for (const doc of d.documents) n += enc.encode(doc).length;
  return n;
}

/**
 * Writes `dir/<domain>/<domain>-NNNNN.jsonl` (SlimPajama-style `{"text", "meta"}` lines) or
 * `.txt` paragraphs; one sub-folder per domain, the layout `sourcesFromDir` and the CLI read.
 * Each file is written atomically. Returns the written paths per domain.
 */
export async function writeCorpus(
  dir: string,
  corpus: SyntheticCorpus,
  opts: { format?: 'jsonl' | 'text'; docsPerFile?: number } = {},
): Promise<Record<string, string[]>> {
  const format = opts.format ?? 'jsonl';
  if (format !== 'jsonl' && format !== 'text') throw new DataError('argument', `writeCorpus: format must be 'jsonl' or 'text', got ${String(format)}`);
  const per = opts.docsPerFile ?? 1000;
  if (!Number.isInteger(per) || per < 1) throw new DataError('argument', `writeCorpus: docsPerFile must be a positive integer, got ${per}`);
  const out: Record<string, string[]> = {};
  for (const d of corpus.domains) {
    const sub = join(dir, d.name);
    await mkdir(sub, { recursive: true });
    out[d.name] = [];
    for (let i = 0, f = 0; i < d.documents.length; i += per, f++) {
      const docs = d.documents.slice(i, i + per);
      const path = join(sub, `${d.name}-${String(f).padStart(5, '0')}.${format === 'jsonl' ? 'jsonl' : 'txt'}`);
      const setName = (REDPAJAMA_SET_NAME as Record<string, string>)[d.name] ?? d.name;
      // Text files separate documents by a blank line, so documents must not contain blank lines: squeeze them.
      const body =
        format === 'jsonl'
          ? docs.map((t) => JSON.stringify({ text: t, meta: { redpajama_set_name: setName } })).join('\n') + '\n'
          : docs.map((t) => t.replace(/\n[ \t]*\n+/g, '\n')).join('\n\n') + '\n';
      await writeFileAtomic(path, body);
      out[d.name]!.push(path);
    }
  }
  return out;
}
