import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DEBIAN_DIR } from '../../../src/data/index.js';
import { tempDir } from '../../data/fixtures.js';
import { CLI, owned, runCli } from '../../cli/run-cli.js';
import { writeLearnableDataset } from './fixtures.js';
import { connect } from 'node:net';
import { encodeFrame, FrameReader, Kind, type Frame } from '../../../src/train/ps/index.js';

/** An intruder without the secret: says hello as worker 0, pushes a gradient, pulls; returns the replies. */
function intrude(port: number): Promise<Frame[]> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const reader = new FrameReader();
    const got: Frame[] = [];
    socket.on('connect', () =>
      socket.write(
        Buffer.concat([
          encodeFrame(Kind.hello, { worker: 0, workers: 1, shard: { index: 0 } }),
          encodeFrame(Kind.push, { clock: 1, count: 1 }, new Float32Array(8).fill(1e6)),
          encodeFrame(Kind.pull, { clock: 1 }),
        ]),
      ),
    );
    socket.on('data', (d: Buffer) => got.push(...reader.push(d)));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(got));
  });
}

/** Local addresses (hex, as /proc/net/tcp shows them) listening on `port`. */
function listeners(port: number): string[] {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[1]?.endsWith(`:${hex}`) && f[3] === '0A')
    .map((f) => f[1]?.split(':')[0] ?? '');
}

const tmp = tempDir('distml-ps-');
after(() => tmp.cleanup());
const data = join(tmp.dir, 'data');
mkdirSync(data);
writeLearnableDataset(data);

const base = [
  'train',
  '--local',
  '--model',
  'cnn',
  '--source',
  data,
  '--cache',
  'memory',
  '--workspace',
  join(tmp.dir, 'ws'),
];

const hasData = existsSync(join(DEBIAN_DIR, 'train-images-idx3-ubyte.gz'));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Waits until none of `pids` is alive, or `timeoutMs` passed (then returns those still alive). */
async function outlivers(pids: Iterable<number>, timeoutMs = 30_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let left = [...pids].filter(alive);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 50));
    left = left.filter(alive);
  }
  return left;
}

/** Launchers the tests started: killed after the tests, so a failed assertion leaves none running. */
const launchers: ChildProcess[] = [];
after(() => {
  for (const c of launchers) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Result {
  epochs: number;
  steps: number;
  examples: number;
  history: { loss: number; valAccuracy: number }[];
  testAccuracy: number;
  workers: {
    rank: number;
    steps: number;
    computeSeconds: number;
    commSeconds: number;
    bytesPushed: number;
    bytesPulled: number;
  }[];
  servers: { index: number; version: number; start: number; end: number }[];
  partition: { total: number; shards: { start: number; end: number }[] };
  path: string;
}

describe('distml train --strategy parameter-server', () => {
  it('bad flags exit 2 and name the flag', async () => {
    const r = await runCli([
      ...base,
      '--epochs',
      '1',
      '--out',
      join(tmp.dir, 'x'),
      '--strategy',
      'parameter-server',
      '--ps',
      '0',
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--ps: must be a positive integer \(got "0"\)/);
    const s = await runCli([...base, '--epochs', '1', '--out', join(tmp.dir, 'x'), '--strategy', 'gossip']);
    assert.equal(s.code, 2);
    assert.match(s.stderr, /--strategy: must be allreduce or parameter-server/);
    const t = await runCli([...base, '--epochs', '1', '--out', join(tmp.dir, 'x'), '--staleness', '-1']);
    assert.equal(t.code, 2);
    assert.match(t.stderr, /--staleness/);
  });

  it('refuses flags it does not support', {}, async () => {
    const r = await runCli([
      ...base,
      '--epochs',
      '1',
      '--out',
      join(tmp.dir, 'x'),
      '--strategy',
      'parameter-server',
      '--resume',
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--resume: not available with --strategy parameter-server/);
  });

  it(
    '2 workers and 1 server learn asynchronously, save the model, and leave no process behind',
    { timeout: 600_000 },
    async () => {
      const out = join(tmp.dir, 'model');
      const child = spawn(
        process.execPath,
        [
          CLI,
          ...base,
          '--epochs',
          '2',
          '--workers',
          '2',
          '--strategy',
          'parameter-server',
          '--ps',
          '1',
          '--out',
          out,
          '--json',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      launchers.push(owned(child));
      let stdout = '';
      let stderr = '';
      const pids = new Set<number>();
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        // While training runs, note the processes the launcher started (1 server + 2 workers).
        if (pids.size < 3 && d.toString().includes('"progress"')) {
          try {
            const found = execFileSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' });
            for (const p of found.trim().split('\n').filter(Boolean)) pids.add(Number(p));
          } catch {
            /* between spawns */
          }
        }
      });
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(code, 0, stderr.slice(-2000));
      const r = JSON.parse(stdout) as Result;
      assert.equal(r.epochs, 2);
      assert.equal(r.workers.length, 2);
      assert.ok(
        r.workers.every((w) => w.steps > 0 && w.bytesPushed > 0 && w.bytesPulled > 0 && w.commSeconds > 0),
      );
      assert.equal(r.servers.length, 1);
      assert.deepEqual(
        r.partition.shards.map((s) => [s.start, s.end]),
        [[0, 93322]],
      );
      assert.ok(r.examples >= 2 * 1280, `${r.examples} examples applied`);
      assert.ok((r.history[1]?.loss ?? 9) < (r.history[0]?.loss ?? 0), 'training loss falls');
      assert.ok(r.testAccuracy > 0.9, `test accuracy ${r.testAccuracy}`);
      assert.ok(existsSync(join(out, 'model.json')) && existsSync(join(out, 'weights.safetensors')));
      assert.ok(pids.size >= 3, `saw the launcher's children (${[...pids].join(', ')})`);
      // Gone with the launcher (a condition with a deadline, not a 200 ms sleep: reaping takes longer when busy).
      assert.deepEqual(await outlivers(pids), [], 'every process was cleaned up');
    },
  );

  it(
    'a worker dying stops the job with its name, and every process it started goes with it',
    { timeout: 300_000 },
    async () => {
      const args = [
        ...base,
        '--epochs',
        '50',
        '--workers',
        '2',
        '--strategy',
        'parameter-server',
        '--ps',
        '2',
      ];
      const child = spawn(process.execPath, [CLI, ...args, '--out', join(tmp.dir, 'dies'), '--json'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      launchers.push(owned(child));
      let stdout = '';
      let killed: number[] = [];
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => {
        if (killed.length || !d.toString().includes('"progress"')) return;
        killed = execFileSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' })
          .trim()
          .split('\n')
          .map(Number);
        const worker1 = killed.find((pid) =>
          readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes('DISTML_PS_RANK=1'),
        );
        assert.ok(worker1, 'found worker 1');
        process.kill(worker1, 'SIGKILL');
      });
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(code, 1);
      assert.match(stdout, /worker 1 failed: killed by SIGKILL/);
      assert.equal(killed.length, 4, '2 servers and 2 workers');
      assert.deepEqual(await outlivers(killed), [], 'every process was cleaned up');
    },
  );

  it(
    'servers listen on loopback and refuse connections without the secret; a SIGSTOPped server fails the workers',
    { timeout: 300_000 },
    async () => {
      const args = [
        ...base,
        '--epochs',
        '50',
        '--workers',
        '1',
        '--strategy',
        'parameter-server',
        '--ps',
        '1',
        '--comm-timeout',
        '3',
      ];
      const child = spawn(process.execPath, [CLI, ...args, '--out', join(tmp.dir, 'frozen'), '--json'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let port = 0;
      let server: number | undefined;
      let probed: Promise<Frame[]> | undefined;
      let listening: string[] = [];
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => {
        const text = d.toString();
        const m = /"event":"ps-server".*?"port":(\d+)/.exec(text);
        if (m) {
          port = Number(m[1]);
          listening = listeners(port);
        }
        if (server !== undefined || !port || !text.includes('"progress"')) return;
        probed = intrude(port);
        // Freeze the server only after the intruder was answered: the refusal is the server's last word.
        void probed.finally(() => {
          const pids = execFileSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' })
            .trim()
            .split('\n')
            .map(Number);
          server = pids.find((pid) =>
            readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes('DISTML_PS_ROLE=server'),
          );
          assert.ok(server, 'found the server');
          process.kill(server, 'SIGSTOP');
        });
      });
      try {
        const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
        assert.equal(code, 1);
        assert.match(
          stdout,
          /worker 0 failed: parameter server 0 at 127\.0\.0\.1:\d+ did not answer within 3 s \(stopped, frozen or overloaded\)/,
        );
        assert.deepEqual(listening, ['0100007F'], 'the server listened on 127.0.0.1 only');
        const replies = await probed;
        assert.equal(replies?.length, 1);
        assert.equal(replies?.[0]?.kind, Kind.error);
        assert.match(String(replies?.[0]?.header['message']), /wrong or missing job secret/);
      } finally {
        if (server !== undefined && alive(server)) {
          process.kill(server, 'SIGCONT');
          process.kill(server, 'SIGKILL');
        }
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    },
  );

  // About 75 s on 2 idle cores (the acceptance run); longer when the machine is shared.
  it(
    'reaches 0.88 test accuracy on Fashion-MNIST in 3 epochs with the book CNN (2 workers, 1 server)',
    {
      skip: !hasData && 'no Fashion-MNIST',
      timeout: 1_800_000,
    },
    async (t) => {
      const r = await runCli([
        'train',
        '--local',
        '--model',
        'cnn',
        '--epochs',
        '3',
        '--workers',
        '2',
        '--strategy',
        'parameter-server',
        '--ps',
        '1',
        // A staleness bound of 1: asynchrony that cannot drift far when the machine is busy.
        '--staleness',
        '1',
        // Every push is applied on its own, so the optimizer steps at the per-worker batch: 32 gives the
        // book's CNN the steps it needs in 3 epochs, as the allreduce kill test does.
        '--batch-size',
        '32',
        '--json',
        '--cache',
        'memory',
        '--workspace',
        join(tmp.dir, 'ws-real'),
        '--out',
        join(tmp.dir, 'real'),
      ]);
      assert.equal(r.code, 0, r.stdout + r.stderr.slice(-1000));
      const result = JSON.parse(r.stdout) as Result;
      assert.equal(result.epochs, 3);
      t.diagnostic(`test accuracy ${result.testAccuracy}`);
      // Asynchronous updates make the result timing-dependent: measured 0.892 and 0.892 at batch 32 (0.884 and
      // 0.889 at batch 64); allreduce and a single process reach ~0.89 in 3 epochs.
      assert.ok(result.testAccuracy >= 0.88, `test accuracy ${result.testAccuracy}`);
    },
  );
});
