import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { COMMANDS } from '../../src/cli/registry.js';
import { tempDir } from '../data/fixtures.js';
import { runCli } from './run-cli.js';

const tmp = tempDir();
after(tmp.cleanup);

/** What bash offers after `distml WORDS...` (the last word is the one being completed). */
function complete(script: string, words: string[]): string[] {
  const probe = [
    `source ${script}`,
    'COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _distml',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const out = execFileSync('bash', ['-c', probe, 'bash', 'distml', ...words], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return out.split('\n').filter(Boolean);
}

describe('distml completion', () => {
  it('bash: completes every command of the registry, its subcommands and its flags', async () => {
    const r = await runCli(['completion', 'bash']);
    assert.equal(r.code, 0, r.stderr);
    const script = join(tmp.dir, 'distml.bash');
    writeFileSync(script, r.stdout);
    const top = complete(script, ['']);
    for (const c of COMMANDS) {
      assert.ok(top.includes(c.path[0]!), `${c.path[0]} offered at the top`);
      if (c.path.length > 1)
        assert.ok(complete(script, [...c.path.slice(0, -1), '']).includes(c.path.at(-1)!));
      const flags = complete(script, [...c.path, '--']);
      for (const name of Object.keys(c.options))
        assert.ok(flags.includes(`--${name}`), `${c.path.join(' ')} --${name}`);
      assert.ok(flags.includes('--workspace'), 'global flags too');
    }
    assert.deepEqual(complete(script, ['serve', '--wait']), ['--wait-for-model']);
    assert.deepEqual(complete(script, ['data', 'prepare', '--cache', '']), ['memory', 'disk', 'none']);
    assert.deepEqual(complete(script, ['run', 'pipeline.yaml', '--sy']), ['--sync']);
  });

  it('zsh: the same completion through bashcompinit; an unknown shell is a usage error', async () => {
    const z = await runCli(['completion', 'zsh']);
    assert.equal(z.code, 0, z.stderr);
    assert.match(z.stdout, /bashcompinit/);
    assert.match(z.stdout, /--wait-for-model/);
    assert.match(z.stdout, /complete -o filenames -F _distml distml/);
    const bad = await runCli(['completion', 'fish']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /distml completion bash\|zsh/);
  });
});
