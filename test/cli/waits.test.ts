import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { tempDir, writeDataset } from '../data/fixtures.js';
import { CLI } from './run-cli.js';

const tmp = tempDir();
after(tmp.cleanup);

/** A loopback port nothing listens on (bound by the OS, then let go). */
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

describe('waits that say what they wait for', () => {
  it('a worker whose group has not formed names the rendezvous it waits at', async () => {
    const data = join(tmp.dir, 'data');
    mkdirSync(data);
    writeDataset(data, 30, 10);
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        CLI,
        'train',
        '--local',
        '--model',
        'cnn',
        '--source',
        data,
        '--epochs',
        '1',
        '--out',
        join(tmp.dir, 'm'),
      ],
      {
        env: {
          ...process.env,
          MASTER_ADDR: '127.0.0.1',
          MASTER_PORT: String(port),
          WORLD_SIZE: '2',
          RANK: '1',
          DISTML_JOB_SECRET: 'waits-test-secret',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        cwd: tmp.dir,
      },
    );
    let stderr = '';
    try {
      await new Promise<void>((resolve, reject) => {
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (/waiting for the rendezvous/.test(stderr)) resolve();
        });
        child.once('exit', () => reject(new Error(`exited first: ${stderr}`)));
      });
      assert.match(
        stderr,
        new RegExp(`waiting for the rendezvous at 127\\.0\\.0\\.1:${port} \\(2 workers\\)`),
      );
    } finally {
      const gone = new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      child.kill('SIGKILL');
      await gone;
    }
  });
});
