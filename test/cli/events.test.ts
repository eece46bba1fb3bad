import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return filesUnder(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

/** Every event name src/ emits or declares (`event: 'name'`), with where. */
function eventNames(): Map<string, string> {
  const names = new Map<string, string>();
  for (const file of filesUnder(join(root, 'src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/\bevent: '([^']+)'/g))
      names.set(m[1]!, relative(root, file));
  }
  return names;
}

describe('event streams: one naming style, documented', () => {
  it('every event name is kebab-case', () => {
    for (const [name, file] of eventNames())
      assert.match(name, /^[a-z]+(-[a-z]+)*$/, `${file}: event "${name}"`);
  });

  it("every event name is in README's Events section, and the section names no other", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const at = readme.indexOf('\n## Events');
    assert.ok(at >= 0, 'README has an Events section');
    const end = readme.indexOf('\n## ', at + 1);
    const section = readme.slice(at, end < 0 ? undefined : end);
    const listed = new Set([...section.matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1]!));
    const names = eventNames();
    for (const [name, file] of names) assert.ok(listed.has(name), `${file}: "${name}" is not in README`);
    for (const name of listed) assert.ok(names.has(name), `README lists "${name}", which src/ does not emit`);
  });
});
