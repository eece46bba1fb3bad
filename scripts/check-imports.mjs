#!/usr/bin/env node
// `make lint`'s import check (CONVENTIONS 1 and 12): no import cycle in src/, type imports included (a type
// cycle is still two files that cannot be understood apart), and no import of another module's internals:
// a file in src/<a>/ may import src/<b>/ only through src/<b>/index.ts. Prints each problem and exits 1.
// Usage: node scripts/check-imports.mjs [root=src]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

const root = resolve(process.argv[2] ?? 'src');

/** Every .ts file under `dir`. */
function filesUnder(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return filesUnder(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** The relative specifiers a file imports or re-exports (static, dynamic and `import type` alike). */
function specifiersOf(file) {
  const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out = [];
  const visit = (node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      out.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteral(arg)) out.push(arg.text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      out.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(src);
  return out.filter((s) => s.startsWith('.'));
}

/** `src/<module>/...` → `<module>` (files directly in src/ have none). */
function moduleOf(file) {
  const parts = relative(root, file).split(sep);
  return parts.length > 1 ? parts[0] : undefined;
}

const files = filesUnder(root);
const known = new Set(files);
const graph = new Map();
const problems = [];
for (const file of files) {
  const deps = [];
  for (const spec of specifiersOf(file)) {
    const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
    if (!known.has(target)) continue;
    deps.push(target);
    const from = moduleOf(file);
    const to = moduleOf(target);
    const face = to && join(root, to, 'index.ts');
    if (from !== to && to && target !== face) {
      problems.push(
        `${relative('.', file)}: imports ${relative('.', target)}, an internal of ${to}/ (import ${to}/index.js)`,
      );
    }
  }
  graph.set(file, deps);
}

// Cycles by depth-first search; each cycle is reported once, from its first file in sorted order.
const state = new Map(); // file → 1 visiting, 2 done
const seen = new Set();
const stack = [];
function walk(file) {
  state.set(file, 1);
  stack.push(file);
  for (const dep of graph.get(file) ?? []) {
    if (state.get(dep) === 1) {
      const cycle = stack.slice(stack.indexOf(dep)).map((f) => relative('.', f));
      const key = [...cycle].sort().join(' ');
      if (!seen.has(key)) {
        seen.add(key);
        problems.push(`import cycle: ${[...cycle, cycle[0]].join(' → ')}`);
      }
    } else if (!state.has(dep)) walk(dep);
  }
  stack.pop();
  state.set(file, 2);
}
for (const file of [...files].sort()) if (!state.has(file)) walk(file);

if (problems.length > 0) {
  for (const p of problems) console.error(`check-imports: ${p}`);
  console.error(`check-imports: ${problems.length} problem(s) in ${relative('.', root)}/`);
  process.exit(1);
}
console.log(`check-imports: ${files.length} files, no cycle, no internal import across modules`);
