// A static job (Kubeflow's PyTorchJob environment: MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK) started by
// hand: rank 0 hosts the rendezvous store, and only workers holding DISTML_JOB_SECRET may use it.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { tempDir } from '../data/fixtures.js';
import { writeLearnableDataset } from '../train/ps/fixtures.js';
import { CLI } from './run-cli.js';

const tmp = tempDir('distml-static-');
const procs: ChildProcess[] = [];
after(() => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  tmp.cleanup();
});
const data = join(tmp.dir, 'data');
mkdirSync(data);
writeLearnableDataset(data, 640, 160);

/** A port that was free a moment ago (the chief must be told its store port up front, as torch's is). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const a = s.address();
  await new Promise((r) => s.close(r));
  return typeof a === 'object' && a ? a.port : 0;
}

function rank(r: number, port: number, secret: string) {
  const child = spawn(
    process.execPath,
    [
      CLI,
      'train',
      '--local',
      '--json',
      ...['--workspace', join(tmp.dir, 'ws'), '--model', 'cnn', '--epochs', '1', '--steps-per-epoch', '4'],
      ...['--source', data, '--out', join(tmp.dir, `out-${port}`), '--threads', '1', '--comm-timeout', '20'],
    ],
    {
      env: {
        ...process.env,
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
        WORLD_SIZE: '2',
        RANK: String(r),
        DISTML_JOB_SECRET: secret,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  procs.push(child);
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.resume();
  const done = new Promise<{ code: number | null; stdout: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout })),
  );
  return Object.assign(done, { child });
}

describe('a static job started by hand (torch environment)', { timeout: 300_000 }, () => {
  it("rank 0 hosts a store only the job's secret opens: the right secret trains, a wrong one is refused", async () => {
    const port = await freePort();
    const [chief, worker] = await Promise.all([rank(0, port, 'job-secret-1'), rank(1, port, 'job-secret-1')]);
    assert.equal(worker.code, 0, worker.stdout);
    assert.equal(chief.code, 0, chief.stdout);
    assert.equal((JSON.parse(chief.stdout) as { worldSizeAtEnd: number }).worldSizeAtEnd, 2);

    const port2 = await freePort();
    const chief2 = rank(0, port2, 'job-secret-2');
    const intruder = await rank(1, port2, 'not-the-secret');
    assert.equal(intruder.code, 1);
    assert.match(intruder.stdout, /rendezvous store refused this worker: .*wrong or missing job secret/);
    // The chief waits for a rank 1 that never comes; it is stopped here, not trusted to time out.
    chief2.child.kill('SIGKILL');
    await chief2;
  });
});
