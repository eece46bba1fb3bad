import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CommandError, UsageError } from '../../src/cli/command.js';
import { describeError, exitCodeFor, isUserFacing } from '../../src/cli/errors.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const src = join(root, 'src');

/** The code prefix of each module's errors (the CLI's own start CLI_). */
const PREFIX: Record<string, string> = {
  cli: 'CLI_',
  data: 'DATA_',
  durable: 'DURABLE_',
  engine: 'ENGINE_',
  metadata: 'METADATA_',
  models: 'MODEL_',
  process: 'PROCESS_',
  registry: 'REGISTRY_',
  scheduler: 'SCHED_',
  serve: 'SERVE_',
  server: 'SERVER_',
  train: 'TRAIN_',
  workflow: 'WORKFLOW_',
};

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return filesUnder(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/**
 * Every error code declared in src/: the string literals of `type XErrorCode = ...;` unions, of a class's
 * `readonly code: 'A' | 'B'` parameter and of `readonly code = 'A'`, by the module that declares them.
 */
function declaredCodes(): { module: string; code: string; file: string }[] {
  const out: { module: string; code: string; file: string }[] = [];
  for (const file of filesUnder(src)) {
    const text = readFileSync(file, 'utf8');
    const module = relative(src, file).split(sep)[0]!;
    const blocks = [
      ...text.matchAll(/type \w*ErrorCode =([\s\S]*?);/g),
      ...text.matchAll(/readonly code: ('[^)]*?'),\s/g),
      ...text.matchAll(/readonly code = ('[A-Z0-9_]+')/g),
    ];
    for (const b of blocks) {
      const body = (b[1] ?? '').replace(/\/\*[\s\S]*?\*\//g, '');
      for (const m of body.matchAll(/'([A-Z][A-Z0-9_]*)'/g)) out.push({ module, code: m[1]!, file });
    }
  }
  return out;
}

describe('one error shape, one meaning per code', () => {
  it('every error class a module exports has the user-facing shape and keeps its own code', async () => {
    const classes: [string, new (code: string, message: string) => Error][] = [];
    for (const m of readdirSync(src)) {
      if (!statSync(join(src, m)).isDirectory() || m === 'cli') continue;
      const face = (await import(`../../src/${m}/index.js`)) as Record<string, unknown>;
      for (const [name, v] of Object.entries(face))
        if (typeof v === 'function' && v.prototype instanceof Error)
          classes.push([`${m}.${name}`, v as new (code: string, message: string) => Error]);
    }
    classes.push(['cli.CommandError', CommandError as never], ['cli.UsageError', UsageError as never]);
    assert.ok(classes.length >= 12, classes.map(([n]) => n).join(', '));
    for (const [name, Cls] of classes) {
      const e =
        Cls === (UsageError as never) ? new UsageError('bad flag') : new Cls('SOME_CODE', 'what to fix');
      assert.ok(isUserFacing(e), `${name} has code and userFacing`);
      const d = describeError(e);
      assert.notEqual(d.code, 'INTERNAL', name);
      assert.equal(d.code, (e as Error & { code: string }).code, name);
      assert.equal(d.message, e.message, name);
    }
  });

  it('exit codes follow the error: 2 for usage, 1 for other failures, and internal errors are marked', () => {
    assert.equal(exitCodeFor(new UsageError('x')), 2);
    assert.equal(exitCodeFor(new CommandError('CLI_PREDICT_FAILED', 'x')), 1);
    assert.equal(exitCodeFor(new Error('x')), 1);
    const d = describeError(new TypeError('oops'));
    assert.equal(d.code, 'INTERNAL');
    assert.match(d.message, /oops \(internal error; rerun with --debug/);
  });

  it("every declared code starts with its module's prefix and is declared once", () => {
    const codes = declaredCodes();
    assert.ok(codes.length > 60, `found ${codes.length} codes`);
    const seen = new Map<string, string>();
    for (const { module, code, file } of codes) {
      const prefix = PREFIX[module];
      assert.ok(prefix, `${relative(root, file)}: module ${module} has no code prefix in this test`);
      assert.ok(code.startsWith(prefix), `${relative(root, file)}: ${code} should start with ${prefix}`);
      const other = seen.get(code);
      assert.equal(other, undefined, `${code} declared in ${other} and ${relative(root, file)}`);
      seen.set(code, relative(root, file));
    }
  });

  it('every code thrown in src/ is a declared one', () => {
    const declared = new Set(declaredCodes().map((c) => c.code));
    for (const file of filesUnder(src)) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/new (\w+Error)\(\s*'([A-Z][A-Z0-9_]*)'/g))
        assert.ok(declared.has(m[2]!), `${relative(root, file)}: new ${m[1]}('${m[2]}') is not declared`);
    }
  });
});
