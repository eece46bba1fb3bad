// The control plane's API: every request needs the secret, every malformed request gets a 4xx `{error, code}`
// naming what was wrong and the server keeps answering; a submitted run's events stream to its end.
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isRunning } from '../../src/process/index.js';
import {
  api,
  cli,
  sandbox,
  serverInfo,
  serverRef,
  startServer,
  stopServer,
  type Info,
  oneStep,
} from './helpers.js';

describe('the server API', { timeout: 300_000 }, () => {
  const box = sandbox();
  let info: Info;
  before(async () => {
    info = await startServer(box.ws);
  });
  after(async () => {
    try {
      await stopServer(box.ws);
      assert.equal(isRunning(serverRef(info)), false, 'the server has exited');
    } finally {
      box.cleanup();
    }
  });

  it('keeps its address and secret in a file only its user may read, and answers on loopback', async () => {
    assert.equal(statSync(join(box.ws, 'server', 'server.json')).mode & 0o777, 0o600);
    assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const h = await api(box.ws, 'GET', '/api/v1/health');
    assert.equal(h.status, 200);
    assert.equal(h.json['pid'], info.pid);
  });

  it('refuses requests without the secret, or with a wrong one', async () => {
    for (const secret of [null, 'not-the-secret', `${serverInfo(box.ws).secret}x`]) {
      const r = await api(box.ws, 'GET', '/api/v1/status', undefined, secret);
      assert.equal(r.status, 401);
      assert.equal(r.json.code, 'SERVER_UNAUTHORIZED');
      assert.match(r.json.error!, /Authorization: Bearer/);
    }
  });

  it('answers malformed requests with a 4xx naming the problem, and stays up', async () => {
    const cases: [string, string, string | object | undefined, number, string, RegExp][] = [
      ['POST', '/api/v1/runs', '{not json', 400, 'SERVER_BAD_REQUEST', /not valid JSON/],
      ['POST', '/api/v1/runs', '[1,2]', 400, 'SERVER_BAD_REQUEST', /must be a JSON object/],
      [
        'POST',
        '/api/v1/runs',
        { workflow: 5 },
        400,
        'SERVER_BAD_REQUEST',
        /body\.workflow: must be the workflow/,
      ],
      ['POST', '/api/v1/runs', { workflow: 'x', extra: 1 }, 400, 'SERVER_BAD_REQUEST', /unknown field extra/],
      [
        'POST',
        '/api/v1/runs',
        { workflow: oneStep('a', 'true'), options: { cores: -1 } },
        400,
        'SERVER_BAD_REQUEST',
        /body\.options\.cores: must be a positive number/,
      ],
      [
        'POST',
        '/api/v1/runs',
        { workflow: oneStep('a', 'true'), options: { cwd: 'relative/dir' } },
        400,
        'SERVER_BAD_REQUEST',
        /body\.options\.cwd: must be an absolute path/,
      ],
      [
        'POST',
        '/api/v1/runs',
        { workflow: 'kind: Workflow\nspec: {}\n' },
        400,
        'WORKFLOW_SPEC_INVALID',
        /body\.workflow is not a valid workflow/,
      ],
      [
        'POST',
        '/api/v1/runs',
        { workflow: oneStep('a', 'true'), parameters: { nope: '1' } },
        400,
        'WORKFLOW_PARAMETER_MISSING',
        /no parameter "nope"/,
      ],
      ['POST', '/api/v1/runs', 'x'.repeat(5 * 1024 * 1024), 413, 'SERVER_TOO_LARGE', /larger than the limit/],
      ['GET', '/api/v1/runs/no-such-run', undefined, 404, 'METADATA_RUN_NOT_FOUND', /no-such-run/],
      ['POST', '/api/v1/runs/no-such-run/stop', undefined, 404, 'METADATA_RUN_NOT_FOUND', /no-such-run/],
      ['GET', '/api/v1/runs/..%2Fetc', undefined, 400, 'WORKFLOW_RUN_BAD_NAME', /etc/],
      ['DELETE', '/api/v1/runs', undefined, 405, 'SERVER_METHOD', /use GET, POST/],
      ['GET', '/api/v2/whatever', undefined, 404, 'SERVER_NOT_FOUND', /under \/api\/v1/],
    ];
    for (const [method, path, body, code, errCode, message] of cases) {
      const r = await api(box.ws, method, path, body);
      assert.equal(r.status, code, `${method} ${path}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.code, errCode, `${method} ${path}`);
      assert.match(r.json.error!, message, `${method} ${path}`);
      assert.equal((await api(box.ws, 'GET', '/api/v1/health')).status, 200, 'still answers');
    }
  });

  it('runs a submitted workflow: its events stream to the end, its logs and status are served', async () => {
    const sub = await api(box.ws, 'POST', '/api/v1/runs', {
      workflow: oneStep('hello', 'echo hello from the step'),
      options: { detach: true },
    });
    assert.equal(sub.status, 201, JSON.stringify(sub.json));
    const run = sub.json['run'] as string;
    const i = serverInfo(box.ws);
    const res = await fetch(`${i.url}/api/v1/runs/${run}/events`, {
      headers: { authorization: `Bearer ${i.secret}` },
      signal: AbortSignal.timeout(120_000),
    });
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    const events = (await res.text())
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { event: string; phase: string });
    assert.deepEqual(events[0], { event: 'run', run, phase: 'Running' });
    assert.deepEqual(events.at(-1), { event: 'run', run, phase: 'Succeeded', message: null });
    const got = await api(box.ws, 'GET', `/api/v1/runs/${run}`);
    assert.equal((got.json['status'] as { phase: string }).phase, 'Succeeded');
    const logs = await api(box.ws, 'GET', `/api/v1/runs/${run}/logs?step=work`);
    assert.match(JSON.stringify(logs.json), /hello from the step/);
    const list = await api(box.ws, 'GET', '/api/v1/runs');
    assert.ok((list.json as unknown as { name: string }[]).some((r) => r.name === run));
    const sse = await fetch(`${i.url}/api/v1/runs/${run}/events?format=sse`, {
      headers: { authorization: `Bearer ${i.secret}` },
    });
    assert.match(await sse.text(), /^data: \{"event":"run"/m);
    const follow = await cli(['logs', run, 'work', '--follow', `--workspace=${box.ws}`]);
    assert.equal(follow.code, 0, follow.stderr);
    assert.equal(follow.stdout, 'hello from the step\n');
    const stop = await api(box.ws, 'POST', `/api/v1/runs/${run}/stop`);
    assert.equal(stop.status, 409);
    assert.equal(stop.json.code, 'WORKFLOW_RUN_FINISHED');
  });

  it('reports itself: address, pid, uptime, runs, resources', async () => {
    const s = await api(box.ws, 'GET', '/api/v1/status');
    assert.equal(s.status, 200);
    assert.equal(s.json['pid'], info.pid);
    assert.equal(s.json['url'], info.url);
    assert.ok((s.json['uptimeMs'] as number) >= 0);
    assert.deepEqual(s.json['runs'], []);
    assert.ok((s.json['resources'] as { cores: number }).cores > 0);
  });
});
