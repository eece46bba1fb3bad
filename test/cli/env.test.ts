import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ENV_VARS, envTableMarkdown } from '../../src/cli/env.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return filesUnder(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

const sources = filesUnder(join(root, 'src')).map((file) => ({
  path: relative(root, file),
  text: readFileSync(file, 'utf8'),
}));
const names = new Set<string>(ENV_VARS.map((v) => v.name));

describe('every environment variable in one table', () => {
  it('declares each variable once', () => {
    assert.equal(names.size, ENV_VARS.length);
  });

  it('outside src/cli the environment is only passed on to child processes, never read', () => {
    for (const { path, text } of sources) {
      if (path.startsWith(`src${sep}cli${sep}`)) continue;
      for (const m of text.matchAll(/process\.env\s*(\[|\.\w|\)\s*[;{])/g))
        assert.fail(`${path}: reads process.env (${m[0]}); read it in src/cli/env.ts and pass the value in`);
      assert.doesNotMatch(text, /= process\.env\)/, `${path}: a default parameter reads process.env`);
    }
  });

  it('in src/cli only env.ts indexes process.env', () => {
    for (const { path, text } of sources) {
      if (!path.startsWith(`src${sep}cli${sep}`) || path.endsWith(`${sep}env.ts`)) continue;
      // main.ts removes the owner marker so that what it starts does not inherit it.
      const reads = [...text.matchAll(/(?<!delete )process\.env\s*(\[|\.\w)/g)];
      assert.equal(reads.length, 0, `${path}: ${reads.map((r) => r[0]).join(', ')}`);
    }
  });

  it('every DISTML_ variable and contract variable named in src/ is in the table', () => {
    for (const { path, text } of sources) {
      for (const m of text.matchAll(/['`]((?:DISTML|MASTER|WORLD|LOCAL|PET|TF|GLOO)_[A-Z_]+)['`]/g))
        assert.ok(names.has(m[1]!), `${path}: ${m[1]} is not in src/cli/env.ts`);
    }
    const contract = sources.find((s) => s.path.endsWith(join('train', 'distributed', 'env.ts')))!;
    for (const key of ['MASTER_ADDR', 'MASTER_PORT', 'WORLD_SIZE', 'RANK', 'LOCAL_RANK', 'TF_CONFIG'])
      assert.ok(contract.text.includes(key) && names.has(key), key);
  });

  it("README's Configuration table is the table", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const at = readme.indexOf('## Configuration');
    const section = readme.slice(at, readme.indexOf('\n## ', at + 1));
    assert.ok(
      section.includes(envTableMarkdown()),
      `README's Configuration section should hold exactly:\n${envTableMarkdown()}`,
    );
  });
});
