import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { owned } from '../cli/run-cli.js';
import { bookRequest, encodeJpeg, fashionImage, publishNew, startServer, tempDir } from './fixtures.js';

// The book's client exactly as Listing 9.25 writes it (Python `requests`), with our URL and model name in place of
// the book's KServe host header.
const LISTING_9_25 = `
import requests
import json
import sys
input_path = "inference-input.json"

with open(input_path) as json_file:
    data = json.load(json_file)
r = requests.post(
    url=sys.argv[1] + "/v1/models/fashion-mnist:predict",
    data=json.dumps(data))
print(r.text)
`;

const PYTHON = '/usr/bin/python3';
const hasRequests = spawnSync(PYTHON, ['-c', 'import requests']).status === 0;

describe(
  "the book's Python client (Listing 9.25)",
  { skip: !hasRequests && 'python3-requests not installed', timeout: 900_000 },
  () => {
    const tmp = tempDir('distml-book-client-');
    let stop: (() => Promise<void>) | undefined;
    after(async () => {
      await stop?.();
      tmp.cleanup();
    });

    it('posts inference-input.json (a JPEG as image_bytes.b64) and gets {"predictions": [[10 probabilities]]}', async () => {
      const repo = join(tmp.dir, 'repo');
      await publishNew(repo, 'fashion-mnist', 3, tmp.dir);
      const { server, url } = await startServer({ repo, name: 'fashion-mnist' });
      stop = () => server.stop();
      writeFileSync(
        join(tmp.dir, 'inference-input.json'),
        JSON.stringify(bookRequest(encodeJpeg(await fashionImage()))),
      );
      writeFileSync(join(tmp.dir, 'client.py'), LISTING_9_25);
      // The server runs in this process: the client must run asynchronously, not with spawnSync.
      const child = owned(
        spawn(PYTHON, ['client.py', url], { cwd: tmp.dir, stdio: ['ignore', 'pipe', 'pipe'] }),
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(code, 0, stderr);
      const reply = JSON.parse(stdout) as { predictions: number[][] };
      assert.equal(reply.predictions.length, 1);
      assert.equal(reply.predictions[0]!.length, 10);
      const sum = reply.predictions[0]!.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-4, `probabilities sum to ${sum}`);
    });
  },
);
