import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importCycles, importGraph } from '../src/import-cycles.mjs';

const packages = join(__dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'cycles-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('no import cycles between the files of a package', () => {
  it('finds a cycle when there is one (a → b → c → a), and ignores type-only imports', () => {
    const src = join(tmp, 'src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'a.ts'), "import { b } from './sub/b.js';\nexport const a = () => b;\n");
    writeFileSync(join(src, 'sub', 'b.ts'), "export { c as b } from '../c.js';\n");
    writeFileSync(join(src, 'c.ts'), "import type { T } from './d.js';\nexport const c = async () => (await import('./a.js')).a;\n");
    writeFileSync(join(src, 'd.ts'), "import { c } from './c.js';\nexport type T = typeof c;\n");
    expect(importCycles(src)).toEqual([['a.ts', 'c.ts', 'sub/b.ts']]);
  });

  for (const name of readdirSync(packages)) {
    it(`${name}/src`, () => {
      const src = join(packages, name, 'src');
      const graph = importGraph(src);
      expect([...graph.values()].some((to) => to.length > 0) || graph.size <= 1 || name === 'test-support').toBe(true);
      expect(importCycles(src)).toEqual([]);
    });
  }
});
