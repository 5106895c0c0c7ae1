import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BROWN_DOMAINS, BROWN_GENRES, BROWN_SPLITS, brownCounts, brownGenreSplit, brownSources, brownWord, detokenizeBrown, detokenizeBrownSentence, loadBrownCorpus, type BrownCorpus,
} from './brown.js';
import { DataError } from './errors.js';
import { byteLevelTokenizer } from './tokenizer.js';
import { writePackedDataset } from './writer.js';

let corpus: BrownCorpus;
const tmp = mkdtempSync(join(tmpdir(), 'brown-test-'));
beforeAll(() => {
  corpus = loadBrownCorpus();
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const doc = (id: string) => corpus.documents.find((d) => d.id === id)!;

describe('Brown tagged form → text', () => {
  it('strips tags at the last slash (words may hold slashes)', () => {
    expect(brownWord('The/at')).toBe('The');
    expect(brownWord('1-1/2/cd')).toBe('1-1/2');
    expect(brownWord("''/''")).toBe("''");
    expect(brownWord('Atlanta\'s/np$')).toBe("Atlanta's");
  });

  it('spaces punctuation and quotes as printed', () => {
    expect(detokenizeBrownSentence("``/`` Only/rb a/at handful/nn ''/'' ,/, the/at jury/nn said/vbd ./.")).toBe('"Only a handful", the jury said.');
    expect(detokenizeBrownSentence('during/in eclipses/nns (/( e.g./rb ,/, Garstung/np ,/, 1958/cd )/) ./.')).toBe('during eclipses (e.g., Garstung, 1958).');
    expect(detokenizeBrownSentence('on/in Earth/np --/-- the/at unknown/jj')).toBe('on Earth--the unknown');
    // A sentence-final period after an abbreviation that ends in one is not printed twice.
    expect(detokenizeBrownSentence('won/vbn by/in Ivan/np Allen/np Jr./np ./.')).toBe('won by Ivan Allen Jr.');
    expect(detokenizeBrownSentence('impact/nn strength/nn ;/. ;/. another/dt')).toBe('impact strength; another');
  });

  it('a tab starts a paragraph, a headline is a line of its own, a line may open with closing punctuation', () => {
    const tagged = '\n\n1/cd-hl ./.-hl\nIntroduction/nn-hl\nIt/pps has/hvz ./.\nSo/rb it/pps is/bez ?/. ?/.\n)/) said/vbd he/pps ./.\n\n\n\tNext/ap one/cd ./.\n';
    expect(detokenizeBrown(tagged)).toBe('1.\nIntroduction\nIt has. So it is??) said he.\nNext one.');
  });

  it('known samples read exactly', () => {
    expect(doc('ca01').text.split('\n')[0]).toBe(
      'The Fulton County Grand Jury said Friday an investigation of Atlanta\'s recent primary election produced "no evidence" that any irregularities took place.',
    );
    expect(doc('ca01').text.split('\n')[3]).toBe(
      '"Only a relative handful of such reports was received", the jury said, "considering the widespread interest in the election, the number of voters and the size of this city".',
    );
    expect(doc('cj01').text.split('\n').slice(0, 2)).toEqual(['1.', 'Introduction']);
    expect(doc('cr01').text).toContain('fancying himself a ladies\' man (and why not, after seven marriages??), had listed himself');
    expect(doc('cm01').text.startsWith('Now that he knew himself to be self he was free to grok ever closer to his brothers, merge without let.')).toBe(true);
    expect(doc('cm01').text).toContain('the precious few on Earth--the unknown');
    // No tag survives anywhere.
    for (const d of corpus.documents) expect(d.text).not.toMatch(/\/(at|nn|vbd|in|jj)(\s|$)/);
    expect(doc('cj76').text).toContain('epoxy foam with outstanding buoyancy and impact strength; another');
  });
});

describe('Brown split', () => {
  it('500 samples, 15 genres, every genre in every split, splits disjoint and complete', () => {
    expect(corpus.documents).toHaveLength(500);
    const ids = corpus.documents.map((d) => d.id);
    expect(new Set(ids).size).toBe(500);
    const counts = brownCounts(corpus);
    for (const s of BROWN_SPLITS) for (const g of BROWN_DOMAINS) expect(counts[s][g]!.documents, `${s}/${g}`).toBeGreaterThan(0);
    const sizes = BROWN_SPLITS.map((s) => Object.values(counts[s]).reduce((n, v) => n + v.documents, 0));
    expect(sizes).toEqual([396, 52, 52]);
    for (const s of BROWN_SPLITS) {
      const src = brownSources(corpus, s);
      expect(src.map((x) => x.name)).toEqual(BROWN_DOMAINS);
    }
  });

  it('depends only on the file names: fixed assignments, independent of listing order', () => {
    const m = ['cm01', 'cm02', 'cm03', 'cm04', 'cm05', 'cm06'];
    const split = brownGenreSplit(m);
    expect([...split].filter(([, s]) => s !== 'train').sort()).toEqual([['cm02', 'validation'], ['cm04', 'test']]);
    expect([...brownGenreSplit([...m].reverse())].sort()).toEqual([...split].sort());
    const a = corpus.documents.filter((d) => d.genre === 'press-reportage' && d.split === 'test').map((d) => d.id);
    expect(a).toEqual(['ca05', 'ca07', 'ca39', 'ca40']);
    // Held-out samples are spread over the genre, not a run of neighbours.
    const nums = a.map((id) => Number(id.slice(2)));
    expect(Math.max(...nums) - Math.min(...nums)).toBeGreaterThan(20);
  });

  it('refuses a folder that is not the corpus, naming it', () => {
    const dir = join(tmp, 'not-brown');
    mkdirSync(dir);
    writeFileSync(join(dir, 'ca01'), 'The/at end/nn ./.\n');
    expect(() => loadBrownCorpus({ dir })).toThrow(DataError);
    expect(() => loadBrownCorpus({ dir })).toThrow(/not-brown holds no sample of genre B/);
    expect(() => brownGenreSplit(['ca01', 'ca02'])).toThrow(/at least 3 samples/);
  });
});

describe('packing a Brown split', () => {
  it('is byte-identical when repeated', async () => {
    const files = async (out: string) => {
      await writePackedDataset({ outDir: out, sources: brownSources(corpus, 'test'), tokenizer: byteLevelTokenizer(), seqLen: 256, seed: 0 });
      const all: Record<string, Buffer> = {};
      const walk = (d: string) => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
          const p = join(d, e.name);
          if (e.isDirectory()) walk(p);
          else all[relative(out, p)] = readFileSync(p);
        }
      };
      walk(out);
      return all;
    };
    const a = await files(join(tmp, 'p1'));
    const b = await files(join(tmp, 'p2'));
    expect(Object.keys(a).length).toBeGreaterThan(BROWN_GENRES.length);
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    for (const k of Object.keys(a)) expect(b[k]!.equals(a[k]!), k).toBe(true);
  });
});
