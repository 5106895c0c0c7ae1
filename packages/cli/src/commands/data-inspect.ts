/**
 * `llama-moe data inspect DIR`: what a packed dataset (written by `data prepare`) holds, per
 * domain, and the weight presets that apply to its domains.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BROWN_GENRES, BROWN_SPLITS, MANIFEST_NAME, WEIGHT_PRESET_NAMES, brownCounts, loadBrownCorpus, resolveWeights, type PackedDatasetManifest } from '@llama-moe/data-sampler';
import { CliError, UsageError } from '../errors.js';
import { requireInputDir } from '../paths.js';
import { formatBytes, renderPairs, renderTable, withCommas } from '../format.js';
import { JSON_OPTION, type CommandArgs, type CommandSpec } from '../command.js';

export interface DataInspectReport {
  dir: string;
  seq_len: number;
  tokenizer_hash: string;
  add_bos: boolean;
  add_eos: boolean;
  remainder: string;
  domains: { name: string; documents: number; tokens: number; blocks: number; block_tokens: number; padded_tokens: number; files: number; bytes: number; share: number }[];
  total: { documents: number; tokens: number; blocks: number; bytes: number };
  /** Preset name → weights per domain, or the reason it does not apply to these domains. */
  weight_presets: Record<string, Record<string, number> | { unavailable: string }>;
}

export function inspectDataset(dir: string): DataInspectReport {
  const file = path.join(dir, MANIFEST_NAME);
  if (!fs.existsSync(file)) throw new CliError(`${dir}: no ${MANIFEST_NAME}; not a packed dataset`, 'pass a folder written by `llama-moe data prepare`');
  let m: PackedDatasetManifest;
  try {
    m = JSON.parse(fs.readFileSync(file, 'utf8')) as PackedDatasetManifest;
  } catch (e) {
    throw new CliError(`${file}: not valid JSON (${(e as Error).message})`, 'rewrite the dataset with `llama-moe data prepare`');
  }
  if (m === null || typeof m !== 'object' || m.format !== 'llama-moe-packed' || typeof m.domains !== 'object' || m.domains === null) {
    throw new CliError(`${file}: format is ${JSON.stringify((m as { format?: unknown } | null)?.format)}, expected "llama-moe-packed"`, 'pass a folder written by `llama-moe data prepare`');
  }
  const totalBlocks = Object.values(m.domains).reduce((s, d) => s + d.blocks, 0);
  const domains = Object.entries(m.domains).map(([name, d]) => {
    let bytes = 0;
    for (const f of d.files) {
      const p = path.join(dir, f);
      if (!fs.existsSync(p)) throw new CliError(`${dir}: domain "${name}" lists ${f}, which is missing`, 'the dataset is incomplete; prepare it again');
      bytes += fs.statSync(p).size;
    }
    return { name, documents: d.documents, tokens: d.tokens, blocks: d.blocks, block_tokens: d.blocks * m.seq_len, padded_tokens: d.padded_tokens, files: d.files.length, bytes, share: totalBlocks ? d.blocks / totalBlocks : 0 };
  });
  const names = domains.map((d) => d.name);
  const weight_presets: DataInspectReport['weight_presets'] = {};
  for (const p of WEIGHT_PRESET_NAMES) {
    try {
      weight_presets[p] = resolveWeights(p, names, { normalize: true });
    } catch (e) {
      weight_presets[p] = { unavailable: (e as Error).message };
    }
  }
  return {
    dir,
    seq_len: m.seq_len,
    tokenizer_hash: m.tokenizer_hash,
    add_bos: m.add_bos,
    add_eos: m.add_eos,
    remainder: m.remainder,
    domains,
    total: {
      documents: domains.reduce((s, d) => s + d.documents, 0),
      tokens: domains.reduce((s, d) => s + d.tokens, 0),
      blocks: totalBlocks,
      bytes: domains.reduce((s, d) => s + d.bytes, 0),
    },
    weight_presets,
  };
}

function render(r: DataInspectReport): string {
  let s = `${r.dir}\n\n`;
  s += renderPairs([
    ['seq_len', String(r.seq_len)],
    ['tokenizer', r.tokenizer_hash],
    ['packing', `BOS ${r.add_bos ? 'on' : 'off'}, EOS ${r.add_eos ? 'on' : 'off'}, remainder ${r.remainder}`],
    ['total', `${withCommas(r.total.documents)} documents, ${withCommas(r.total.tokens)} tokens, ${withCommas(r.total.blocks)} blocks, ${formatBytes(r.total.bytes)}`],
  ]);
  s += '\n';
  s += renderTable(
    ['domain', 'documents', 'tokens', 'blocks', 'share', 'files', 'size'],
    r.domains.map((d) => [d.name, withCommas(d.documents), withCommas(d.tokens), withCommas(d.blocks), `${(d.share * 100).toFixed(1)}%`, String(d.files), formatBytes(d.bytes)]),
    ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
  );
  s += '\nweight presets\n';
  const names = r.domains.map((d) => d.name);
  const rows: string[][] = [];
  for (const [p, w] of Object.entries(r.weight_presets)) {
    if ('unavailable' in w) rows.push([p, ...names.map(() => '-')]);
    else rows.push([p, ...names.map((n) => (w as Record<string, number>)[n]!.toFixed(3))]);
  }
  s += renderTable(['preset', ...names], rows, ['left', ...names.map(() => 'right' as const)]);
  const skipped = Object.entries(r.weight_presets).filter(([, w]) => 'unavailable' in w).map(([p]) => p);
  if (skipped.length) s += `(${skipped.join(', ')}: need the SlimPajama domain names)\n`;
  return s;
}

export interface BrownInspectReport {
  preset: 'brown';
  dir: string;
  /** Per genre: title, and documents / UTF-8 bytes in each split. */
  domains: { name: string; title: string; train: { documents: number; bytes: number }; validation: { documents: number; bytes: number }; test: { documents: number; bytes: number } }[];
  total: Record<(typeof BROWN_SPLITS)[number], { documents: number; bytes: number }>;
}

/** The Brown Corpus split: documents and bytes per genre and split. */
export function inspectBrown(): BrownInspectReport {
  const corpus = loadBrownCorpus();
  const c = brownCounts(corpus);
  const total = Object.fromEntries(BROWN_SPLITS.map((s) => [s, Object.values(c[s]).reduce((a, v) => ({ documents: a.documents + v.documents, bytes: a.bytes + v.bytes }), { documents: 0, bytes: 0 })])) as BrownInspectReport['total'];
  return {
    preset: 'brown',
    dir: corpus.dir,
    domains: BROWN_GENRES.map((g) => ({ name: g.name, title: g.title, train: c.train[g.name]!, validation: c.validation[g.name]!, test: c.test[g.name]! })),
    total,
  };
}

function renderBrown(r: BrownInspectReport): string {
  const cell = (v: { documents: number; bytes: number }) => `${v.documents} (${formatBytes(v.bytes)})`;
  let s = `Brown Corpus (${r.dir}): documents (text size) per genre and split, split by document\n\n`;
  s += renderTable(
    ['domain', 'genre', 'train', 'validation', 'test'],
    [...r.domains.map((d) => [d.name, d.title, cell(d.train), cell(d.validation), cell(d.test)]), ['total', '', cell(r.total.train), cell(r.total.validation), cell(r.total.test)]],
    ['left', 'left', 'right', 'right', 'right'],
  );
  return s;
}

export const dataInspectCommand: CommandSpec = {
  name: 'data inspect',
  summary: 'Show a packed dataset: documents, tokens and blocks per domain, weight presets',
  description:
    'Reads llama_moe_dataset.json of a folder written by `llama-moe data prepare` and checks its files exist. ' +
    'Prints the packing settings, a per-domain table (documents, tokens, blocks, share of blocks, files, size) and ' +
    'the domain weights of each preset (uniform, llama1, sheared_llama) for the dataset\'s domains.',
  usage: ['data inspect DIR [--json]', 'data inspect --preset brown [--json]'],
  positionals: [{ name: 'DIR', description: 'Packed dataset folder.' }],
  options: [
    { name: 'preset', type: 'string', choices: ['brown'], valueName: 'NAME', description: 'Instead of DIR: the documents and text size per domain and split of a shipped corpus (brown).' },
    JSON_OPTION,
  ],
  examples: ['llama-moe data inspect data/packed', 'llama-moe data inspect data/packed --json', 'llama-moe data inspect --preset brown'],
  async run(args: CommandArgs) {
    const dir = args.positionals[0];
    if ((dir === undefined) === (args.options.preset === undefined)) throw new UsageError(dir === undefined ? 'missing DIR (or --preset)' : 'DIR and --preset exclude each other', 'pass a packed dataset folder, or --preset brown');
    if (dir === undefined) {
      const r = inspectBrown();
      args.io.stdout(args.options.json ? JSON.stringify(r, null, 2) + '\n' : renderBrown(r));
      return 0;
    }
    requireInputDir(dir, '', 'dataset folder');
    const r = inspectDataset(dir);
    args.io.stdout(args.options.json ? JSON.stringify(r, null, 2) + '\n' : render(r));
    return 0;
  },
};
