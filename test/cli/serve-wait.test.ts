import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { tempDir } from '../data/fixtures.js';
import { CLI, runCli } from './run-cli.js';

const tmp = tempDir();
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  tmp.cleanup();
});

/** Starts `distml serve ARGS`; `until` resolves once its stderr matches (or rejects when it exits first). */
function serve(args: string[]) {
  const child = spawn(process.execPath, [CLI, 'serve', '--local', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const until = (re: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (re.test(stderr)) {
          child.stderr.off('data', check);
          resolve();
        }
      };
      child.stderr.on('data', check);
      check();
      void exit.then(() => (re.test(stderr) ? resolve() : reject(new Error(`exited: ${stderr}`))));
    });
  return { child, exit, until, out: () => stdout, err: () => stderr };
}

describe('distml serve says what it waits for', () => {
  it('fails at once, exit 1, naming a repository path that does not exist', async () => {
    const missing = join(tmp.dir, 'no-such-repo');
    const r = await runCli(['serve', '--local', '--repo', missing, '--model', 'x', '--port', '0']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`model repository ${missing} does not exist`));
    assert.match(r.stderr, /--wait-for-model/);
    assert.equal(r.stdout, '', 'never listened');
  });

  it('without a loadable version, says once what it waits for and where, and keeps serving', async () => {
    const repo = join(tmp.dir, 'empty-repo');
    mkdirSync(repo);
    const s = serve(['--repo', repo, '--model', 'fmnist', '--port', '0']);
    await s.until(/waiting for/);
    assert.match(s.out(), /^listening on http:\/\/127\.0\.0\.1:\d+/);
    assert.match(
      s.err(),
      new RegExp(`waiting for a version of model fmnist in ${join(repo, 'fmnist')}/<version>/ \\(no version`),
    );
    assert.equal(s.err().match(/waiting for/g)?.length, 1, 'said once, not on every poll');
    s.child.kill('SIGTERM');
    assert.equal(await s.exit, 0, s.err());
  });

  it('with --wait-for-model, starts on a missing repository and gives up after the duration, exit 1', async () => {
    const missing = join(tmp.dir, 'later-repo');
    const s = serve(['--repo', missing, '--model', 'x', '--port', '0', '--wait-for-model', '4s']);
    const code = await s.exit;
    assert.equal(code, 1, s.err());
    assert.match(s.out(), /^listening on /);
    assert.match(
      s.err(),
      new RegExp(
        `waiting for a version of model x in ${missing}/x/<version>/ \\(${missing} does not exist yet\\)`,
      ),
    );
    assert.match(s.err(), /no version of x could be loaded within --wait-for-model 4 s/);
  });

  it('with --json, reports its replicas and request rate every few seconds (the pipeline tree shows them)', async () => {
    const repo = join(tmp.dir, 'empty-repo-json');
    mkdirSync(repo);
    const s = serve(['--repo', repo, '--model', 'fmnist', '--port', '0', '--json']);
    await s.until(/"event":"serving"/);
    const line = s
      .err()
      .split('\n')
      .find((l) => l.includes('"event":"serving"'))!;
    assert.deepEqual(JSON.parse(line), { event: 'serving', replicas: 0, desired: 1, requestsPerSecond: 0 });
    s.child.kill('SIGTERM');
    assert.equal(await s.exit, 0, s.err());
  });
});
