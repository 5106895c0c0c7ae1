/** The test-support helpers themselves: the browser-bundle check sees built-ins, the fuzz targets use the library's dtype table. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { browserBundle, entrySource, isNodeBuiltin } from '@llama-moe/test-support/browser-bundle';
import { createTargets, safetensorsCaseArb, safetensorsCaseBytes, safetensorsDtypeBytes } from '@llama-moe/test-support/fuzz';
import { writeParquetBytes } from '@llama-moe/test-support/parquet-writer';

const dir = mkdtempSync(join(tmpdir(), 'test-support-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('browser-bundle', () => {
  it('names Node built-ins, with or without the node: prefix', () => {
    expect(['node:fs', 'fs', 'fs/promises', 'node:worker_threads', 'path'].every(isNodeBuiltin)).toBe(true);
    expect(['fast-check', '@llama-moe/router', './fs.js'].some(isNodeBuiltin)).toBe(false);
  });

  it('reports every built-in a bundle reaches, with its importer, and the bundle size', async () => {
    writeFileSync(join(dir, 'a.mjs'), "import { readFileSync } from 'node:fs';\nimport './b.mjs';\nexport const f = () => readFileSync('x');\n");
    writeFileSync(join(dir, 'b.mjs'), "import * as p from 'path';\nexport const j = p.join;\n");
    const b = await browserBundle(join(dir, 'a.mjs'));
    expect(b.builtins.map((x) => x.id).sort()).toEqual(['node:fs', 'path']);
    expect(b.builtins.every((x) => x.importer.endsWith('.mjs'))).toBe(true);
    expect(b.bytes).toBeGreaterThan(0);
    expect(b.workspacePackages).toEqual([]);
  });

  it('finds entry points through the @llama-moe/source condition of package.json exports', () => {
    expect(entrySource('router')).toMatch(/packages\/router\/src\/index\.ts$/);
    expect(entrySource('router', './modules')).toMatch(/packages\/router\/src\/modules\/index\.ts$/);
    expect(() => entrySource('router', './nope')).toThrow(/no '@llama-moe\/source' export for '.\/nope'/);
  });
});

describe('fuzz targets', () => {
  const dtypes = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'];
  const widths: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
  /** A stand-in for llama-model: its dtype list and byte lengths are all the safetensors builders read. */
  const llama = { SAFETENSORS_DTYPES: dtypes, tensorByteLength: (shape: number[], d: string) => shape.reduce((a, b) => a * b, 1) * widths[d]! };

  it('safetensors cases are built from the library dtype table, in its order', () => {
    const table = safetensorsDtypeBytes(llama);
    expect(Object.keys(table)).toEqual(dtypes);
    expect(table).toEqual(widths);
    // a table without BOOL: no generated header names it
    const noBool = safetensorsDtypeBytes({ ...llama, SAFETENSORS_DTYPES: dtypes.filter((d) => d !== 'BOOL') });
    for (const c of fc.sample(safetensorsCaseArb(fc, noBool), { numRuns: 200, seed: 7 }) as { kind: string; base?: { header: Record<string, { dtype: string }> } }[]) {
      if (c.base) expect(Object.values(c.base.header).some((t) => t.dtype === 'BOOL')).toBe(false);
      expect(safetensorsCaseBytes(c)).toBeInstanceOf(Uint8Array);
    }
  });

  it('createTargets makes only the targets its libraries support', () => {
    expect(createTargets({ fc }).targets).toEqual([]);
  });

  it('the Parquet writer starts and ends with the magic', () => {
    const b = writeParquetBytes([{ name: 'n', type: 'int32', values: [1, 2, 3] }], 2);
    const magic = new TextDecoder().decode(b.subarray(0, 4));
    expect(magic).toBe('PAR1');
    expect(new TextDecoder().decode(b.subarray(b.length - 4))).toBe('PAR1');
  });
});
