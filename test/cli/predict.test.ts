import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ModelServer } from '../../src/serve/index.js';
import { hasDebianData, publishNew, startServer, tempDir } from '../serve/fixtures.js';
import { runCli } from './run-cli.js';

describe(
  'distml predict (the book client)',
  { skip: !hasDebianData && 'dataset-fashion-mnist not installed', timeout: 900_000 },
  () => {
    const tmp = tempDir('distml-predict-');
    const closers: (() => Promise<void>)[] = [];
    after(async () => {
      for (const c of closers) await c();
      tmp.cleanup();
    });

    it('posts real test images as JPEG b64 and compares predictions with the labels', async () => {
      const repo = join(tmp.dir, 'repo');
      await publishNew(repo, 'fmnist', 3, tmp.dir);
      const { server, url } = await startServer({ repo, name: 'fmnist' });
      closers.push(() => server.stop());
      const r = await runCli([
        'predict',
        '--url',
        url,
        '--model',
        'fmnist',
        '--count',
        '4',
        '--from',
        '10',
        '--json',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const rep = JSON.parse(r.stdout) as {
        rows: { index: number; label: string; predicted: string; probability: number }[];
        correct: number;
      };
      assert.deepEqual(
        rep.rows.map((x) => x.index),
        [10, 11, 12, 13],
      );
      for (const row of rep.rows) {
        assert.ok(row.label && row.predicted && row.probability > 0 && row.probability <= 1);
      }
      const human = await runCli(['predict', '--url', url, '--model', 'fmnist', '--count', '2']);
      assert.match(human.stdout, /\/2 correct/);
    });

    it('--wait holds the request until the server has a version, and says when it never gets one', async () => {
      const repo = join(tmp.dir, 'empty-repo');
      const server = new ModelServer({ repo, name: 'later', host: '127.0.0.1', port: 0, pollMs: 100 });
      const url = await server.listen();
      closers.push(() => server.stop());
      const notYet = await runCli(['predict', '--url', url, '--model', 'later', '--wait', '300ms']);
      assert.equal(notYet.code, 1);
      assert.match(notYet.stderr, /\/v2\/health\/ready not ready after 300 ms \(last: 503/);
      const waiting = runCli([
        'predict',
        '--url',
        url,
        '--model',
        'later',
        '--count',
        '2',
        '--wait',
        '1m',
        '--json',
      ]);
      await new Promise((r) => setTimeout(r, 500)); // the client is polling by now
      await publishNew(repo, 'later', 5, tmp.dir);
      const r = await waiting;
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { rows: unknown[] }).rows.length, 2);
      const bad = await runCli(['predict', '--url', url, '--model', 'later', '--wait', 'soon']);
      assert.equal(bad.code, 2);
      assert.match(
        bad.stderr,
        /--wait: must be a duration like 500ms, 30s, 10m, 1h or 7d, between 0 ms and 86400 s/,
      );
    });

    it('says clearly when the server is down or the model unknown', async () => {
      const closed = createServer();
      await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((r) => closed.close(() => r()));
      const down = await runCli(['predict', '--url', `http://127.0.0.1:${port}`, '--model', 'x']);
      assert.equal(down.code, 1);
      assert.match(
        down.stderr,
        /cannot reach http:\/\/127\.0\.0\.1:\d+\/v1\/models\/x:predict: ECONNREFUSED; is the server running\?/,
      );
      const bad = await runCli(['predict', '--url', 'not a url', '--model', 'x']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--url: must be an http\(s\) URL/);
      const count = await runCli(['predict', '--url', 'http://127.0.0.1:9', '--model', 'x', '--count', '0']);
      assert.equal(count.code, 2);
      assert.match(count.stderr, /--count: must be an integer in \[1, 1000\]/);
    });
  },
);
