// Import cycles between the files of one package: every relative `import` / `export … from` /
// `import()` of its src/ (TypeScript, tests excluded), resolved to files, searched with Tarjan's
// strongly connected components. Type-only imports are left out: they vanish at run time.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SPEC_RE = /(?:^|[;\n}])\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function sourceFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mts)$/.test(name) && !/\.test\.ts$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

function resolveSpec(from, spec) {
  const base = resolve(dirname(from), spec);
  for (const c of [base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), `${base}.ts`, join(base, 'index.ts'), base]) if (existsSync(c) && statSync(c).isFile()) return c;
  return null;
}

/** The import graph of `srcDir` (run-time imports only): file → files it imports. */
export function importGraph(srcDir) {
  const files = sourceFiles(resolve(srcDir));
  const graph = new Map(files.map((f) => [f, []]));
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(SPEC_RE)) {
      if (m[2]) continue; // `import type` / `export type`
      const spec = m[3] ?? m[4];
      const to = resolveSpec(f, spec);
      if (to && graph.has(to)) graph.get(f).push(to);
    }
  }
  return graph;
}

/** Every cycle (strongly connected component of more than one file, or a file importing itself), as paths relative to `srcDir`. */
export function importCycles(srcDir) {
  srcDir = resolve(srcDir);
  const graph = importGraph(srcDir);
  let index = 0;
  const idx = new Map(), low = new Map(), onStack = new Set(), stack = [], out = [];
  const strong = (v) => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v)) {
      if (!idx.has(w)) { strong(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do { w = stack.pop(); onStack.delete(w); comp.push(w); } while (w !== v);
      if (comp.length > 1 || graph.get(v).includes(v)) out.push(comp.map((f) => relative(srcDir, f)).sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) strong(v);
  return out;
}
