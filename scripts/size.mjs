#!/usr/bin/env node
// `make lint`'s size report (CONVENTIONS 3 and 12; tinygrad's sz.py idea): lists the files of src/ over
// FILE_LINES lines and the functions over FUNCTION_LINES lines, largest first, and fails when the largest of
// either passes its ceiling. The ceilings are today's worst: lower them as files are split, never raise them.
// Usage: node scripts/size.mjs [--quiet]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const FILE_LINES = 300;
const FUNCTION_LINES = 50;
/** The largest file and function allowed (lines). */
const CEILING = { file: 405, function: 125 };

function filesUnder(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return filesUnder(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** Named functions, methods and function-valued consts of a file, with their length in lines. */
function functionsOf(file, text) {
  const src = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out = [];
  const lines = (node) =>
    src.getLineAndCharacterOfPosition(node.getEnd()).line -
    src.getLineAndCharacterOfPosition(node.getStart()).line +
    1;
  const visit = (node) => {
    let name;
    if ((ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)) && node.body)
      name = node.name?.getText();
    else if (ts.isConstructorDeclaration(node) && node.body) name = 'constructor';
    else if (ts.isVariableDeclaration(node) && node.initializer && ts.isFunctionLike(node.initializer)) {
      name = node.name.getText();
    }
    if (name)
      out.push({
        name,
        lines: lines(node),
        line: src.getLineAndCharacterOfPosition(node.getStart()).line + 1,
      });
    ts.forEachChild(node, visit);
  };
  visit(src);
  return out;
}

const files = filesUnder('src').map((path) => {
  const text = readFileSync(path, 'utf8');
  return { path: relative('.', path), lines: text.split('\n').length - (text.endsWith('\n') ? 1 : 0), text };
});
const bigFiles = files.filter((f) => f.lines > FILE_LINES).sort((a, b) => b.lines - a.lines);
const longFunctions = files
  .flatMap((f) => functionsOf(f.path, f.text).map((fn) => ({ ...fn, path: f.path })))
  .filter((fn) => fn.lines > FUNCTION_LINES)
  .sort((a, b) => b.lines - a.lines);

const quiet = process.argv.includes('--quiet');
if (!quiet) {
  console.log(`size: ${bigFiles.length} files over ${FILE_LINES} lines (ceiling ${CEILING.file})`);
  for (const f of bigFiles) console.log(`  ${String(f.lines).padStart(5)}  ${f.path}`);
  console.log(
    `size: ${longFunctions.length} functions over ${FUNCTION_LINES} lines (ceiling ${CEILING.function})`,
  );
  for (const fn of longFunctions)
    console.log(`  ${String(fn.lines).padStart(5)}  ${fn.path}:${fn.line} ${fn.name}`);
}
const over = [
  ...bigFiles.filter((f) => f.lines > CEILING.file).map((f) => `${f.path} has ${f.lines} lines`),
  ...longFunctions
    .filter((fn) => fn.lines > CEILING.function)
    .map((fn) => `${fn.path}:${fn.line} ${fn.name} has ${fn.lines} lines`),
];
if (over.length > 0) {
  for (const o of over)
    console.error(`size: over the ceiling: ${o} (split it by concept; see CONVENTIONS 3)`);
  process.exit(1);
}
