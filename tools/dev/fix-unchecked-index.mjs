#!/usr/bin/env node
// One-off codemod used when noUncheckedIndexedAccess was switched on: for every "possibly
// undefined" diagnostic caused by an element access (`a[i]`), add a non-null assertion where the
// access is written (`a[i]!`), or at the initializer of the variable the diagnostic names. Only
// element accesses are touched; anything else is left for a person. Usage:
//   node tools/dev/fix-unchecked-index.mjs packages/<name>/tsconfig.json   (repeat until it reports 0)
import ts from 'typescript';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const project = resolve(process.argv[2] ?? 'tsconfig.json');
const parsed = ts.getParsedCommandLineOfConfigFile(project, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } });
const program = ts.createProgram({ rootNames: parsed.fileNames, options: { ...parsed.options, noEmit: true, composite: false, incremental: false } });
const checker = program.getTypeChecker();
const diags = ts.getPreEmitDiagnostics(program).filter((d) => d.file && [2532, 18048, 2345, 2322, 2538, 2769, 18047, 2488, 2362, 2363, 2365, 2367, 2339, 2349, 2531, 2533, 18049, 7053, 2683].includes(d.code));
/** file → set of positions (end of an element access) where `!` goes */
const edits = new Map();
const add = (sf, pos) => { if (!edits.has(sf.fileName)) edits.set(sf.fileName, new Set()); edits.get(sf.fileName).add(pos); };
const root = dirname(project);
function innermostAt(sf, pos, end) {
  let found;
  const visit = (n) => { if (n.getStart(sf) <= pos && n.getEnd() >= end) { found = n; ts.forEachChild(n, visit); } };
  visit(sf);
  return found;
}
let unresolved = 0;
for (const d of diags) {
  const sf = d.file;
  if (!sf.fileName.startsWith(root)) continue;
  let n = innermostAt(sf, d.start, d.start + d.length);
  // Walk up to an element access that spans exactly the diagnostic, or down from the named identifier to its initializer.
  let target = null;
  for (let m = n; m && !target; m = m.parent) {
    if (ts.isElementAccessExpression(m) && m.getStart(sf) === d.start) target = m;
    if (m.getStart(sf) < d.start) break;
  }
  if (!target && n && ts.isIdentifier(n)) {
    const sym = checker.getSymbolAtLocation(n);
    const decl = sym?.valueDeclaration;
    if (decl && ts.isVariableDeclaration(decl) && decl.initializer && ts.isElementAccessExpression(decl.initializer) && decl.getSourceFile().fileName.startsWith(root)) target = decl.initializer;
  }
  if (!target && n) {
    // The diagnostic may cover an expression whose leftmost operand is the element access.
    let m = n;
    while (m && !ts.isElementAccessExpression(m) && m.getChildCount(sf) > 0) m = m.getChildAt(0, sf);
    if (m && ts.isElementAccessExpression(m) && m.getStart(sf) === d.start) target = m;
  }
  // An assignment target is not what is undefined: the value assigned to it is.
  if (target) {
    const p = target.parent;
    if (ts.isBinaryExpression(p) && p.left === target && p.operatorToken.kind === ts.SyntaxKind.EqualsToken) target = ts.isElementAccessExpression(p.right) ? p.right : null;
    else if (ts.isArrayLiteralExpression(p) && ts.isBinaryExpression(p.parent) && p.parent.left === p && ts.isArrayLiteralExpression(p.parent.right)) {
      const r = p.parent.right.elements[p.elements.indexOf(target)];
      target = r && ts.isElementAccessExpression(r) ? r : null;
    }
  }
  if (target) add(target.getSourceFile(), target.getEnd());
  else { unresolved++; console.log(`left: ${sf.fileName.slice(root.length + 1)}:${sf.getLineAndCharacterOfPosition(d.start).line + 1} ${ts.flattenDiagnosticMessageText(d.messageText, ' ').slice(0, 140)}`); }
}
let count = 0;
for (const [file, set] of edits) {
  let text = readFileSync(file, 'utf8');
  for (const pos of [...set].sort((a, b) => b - a)) { if (text[pos] !== '!') { text = text.slice(0, pos) + '!' + text.slice(pos); count++; } }
  writeFileSync(file, text);
}
console.log(`${diags.length} diagnostics, ${count} assertions added, ${unresolved} left`);
