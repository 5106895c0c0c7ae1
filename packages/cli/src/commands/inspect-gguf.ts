/**
 * `llama-moe inspect FILE.gguf`: a GGUF file's header (metadata and tensor infos; no tensor data is
 * read). Long arrays (the vocabulary, scores, merges) are summarised by their length and first items.
 */
import { GgufFile, ggufValueToJs } from '@llama-moe/llama-model/node';
import { formatBytes, formatCount, renderPairs, renderTable } from '../format.js';

export interface GgufInspectReport {
  file: string;
  version: number;
  alignment: number;
  architecture: string | null;
  metadata: Record<string, unknown>;
  parameters: number;
  types: Record<string, number>;
  total_bytes: number;
  tensors: { name: string; type: string; shape: number[]; ne: number[]; numel: number; bytes: number }[];
}

/** Arrays longer than this are summarised as `{ length, head }`. */
const ARRAY_HEAD = 8;

export function inspectGguf(file: string): GgufInspectReport {
  const g = GgufFile.open(file);
  try {
    const metadata: Record<string, unknown> = {};
    for (const [k, v] of g.metadata) {
      const js = ggufValueToJs(v);
      metadata[k] = Array.isArray(js) && js.length > ARRAY_HEAD ? { length: js.length, head: js.slice(0, ARRAY_HEAD) } : js;
    }
    const tensors = g.keys().map((name) => {
      const i = g.info(name);
      return { name, type: i.type, shape: [...i.shape], ne: [...i.ne], numel: i.shape.reduce((a, b) => a * b, 1), bytes: i.byteLength };
    });
    const types: Record<string, number> = {};
    for (const t of tensors) types[t.type] = (types[t.type] ?? 0) + t.numel;
    const arch = metadata['general.architecture'];
    return {
      file, version: g.version, alignment: g.alignment, architecture: typeof arch === 'string' ? arch : null, metadata,
      parameters: tensors.reduce((s, t) => s + t.numel, 0), types, total_bytes: g.fileSize, tensors,
    };
  } finally {
    g.close();
  }
}

export function renderGgufReport(r: GgufInspectReport): string {
  const pairs: [string, string][] = [
    ['format', `GGUF v${r.version}, alignment ${r.alignment}`],
    ['architecture', r.architecture ?? '(none)'],
    ['parameters', formatCount(r.parameters)],
    ['types', Object.entries(r.types).map(([t, n]) => `${t} ${formatCount(n)}`).join(', ')],
    ['size', formatBytes(r.total_bytes)],
  ];
  let s = `${r.file}\n\n${renderPairs(pairs)}\n\nmetadata\n`;
  s += renderPairs(Object.entries(r.metadata).map(([k, v]) => [k, JSON.stringify(v)] as [string, string])) + '\n\n';
  s += renderTable(['tensor', 'type', 'shape', 'bytes'], r.tensors.map((t) => [t.name, t.type, `[${t.shape.join(', ')}]`, formatBytes(t.bytes)]), ['left', 'left', 'left', 'right']);
  return s;
}
