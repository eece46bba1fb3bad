import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { CLI, owned } from '../cli/run-cli.js';
import { bookRequest, call, encodeJpeg, fashionImage, publishNew, tempDir } from './fixtures.js';

/** Starts `distml serve` and resolves with the child and the URL from its listening line. */
async function serve(args: string[]): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = owned(
    spawn(process.execPath, [CLI, 'serve', '--local', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const lines = createInterface({ input: child.stdout! });
  let timer: NodeJS.Timeout | undefined;
  try {
    const first = await new Promise<string>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no listening line after 60 s: ${err}`)), 60_000);
      lines.once('line', resolve);
      child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
    });
    const { event, url } = JSON.parse(first) as { event: string; url: string };
    assert.equal(event, 'listening');
    return { child, url, stderr: () => err };
  } catch (e) {
    child.kill('SIGKILL'); // the caller never got it, so it cannot stop it
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** Polls until `cond` holds, failing after `timeoutMs`. */
async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((res) => setTimeout(res, 25));
  }
}

const ready = (url: string) =>
  until('the server to be ready', async () => (await fetch(`${url}/v2/health/ready`)).status === 200);

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });

describe('distml serve (a real server process)', { timeout: 900_000 }, () => {
  const tmp = tempDir();
  const repo = join(tmp.dir, 'repo');
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    tmp.cleanup();
  });

  it('prints a listening line, serves the book request, and on SIGTERM drains the request in flight, exit 0', async () => {
    await publishNew(repo, 'fmnist', 3, tmp.dir);
    // A long batching delay keeps the request queued while we send SIGTERM, once the server has it.
    const s = await serve([
      '--repo',
      repo,
      '--model',
      'fmnist',
      '--port',
      '0',
      '--max-delay-ms',
      '5000',
      '--json',
    ]);
    children.push(s.child);
    await ready(s.url);
    const body = bookRequest(encodeJpeg(await fashionImage()));
    const inFlight = call(`${s.url}/v1/models/fmnist:predict`, body);
    const inFlight2 = async () =>
      /distml_requests_in_flight (\d+)/.exec(await (await fetch(`${s.url}/metrics`)).text())?.[1] === '2';
    await until('the request in flight (with this metrics request)', inFlight2);
    s.child.kill('SIGTERM');
    const r = await inFlight;
    assert.equal(r.status, 200);
    assert.equal((r.body.predictions as unknown[]).length, 1);
    assert.equal(await exited(s.child), 0);
    assert.match(s.stderr(), /"event":"stopped"/);
    await assert.rejects(fetch(`${s.url}/v2/health/live`));
  });

  it('exits 2 naming the flag on bad usage', async () => {
    const child = spawn(
      process.execPath,
      [CLI, 'serve', '--local', '--repo', repo, '--model', 'x', '--port', 'abc'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    assert.equal(await exited(child), 2);
    assert.match(err, /--port/);
  });

  it('exits 2 naming a limit flag that is not a valid value', async () => {
    for (const [flag, value] of [
      ['--max-decode-pixels', '0'],
      ['--queue-deadline', 'soon'],
    ] as const) {
      const child = spawn(
        process.execPath,
        [CLI, 'serve', '--local', '--repo', repo, '--model', 'x', flag, value],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      children.push(child);
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      assert.equal(await exited(child), 2);
      assert.match(err, new RegExp(flag));
    }
  });
});
