// Rate limits (book 4.4.2), sharded services (4.3), the ensemble endpoint (5.2) and flag checking, against
// real gateway and replica processes on free loopback ports.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashKey } from '../../../src/serve/index.js';
import { runCli } from '../../cli/run-cli.js';
import { examples, startGateway, status, twoModelRepo, waitFor, type RunningGateway } from './harness.js';

type Preds = { predictions: number[][] };

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

describe('gateway features (real processes)', { timeout: 900_000 }, () => {
  let fx: Awaited<ReturnType<typeof twoModelRepo>>;
  const running: RunningGateway[] = [];
  before(async () => {
    fx = await twoModelRepo();
  });
  after(async () => {
    await Promise.all(running.map((g) => g.stop()));
    fx.cleanup();
  });

  it('holds anonymous and authenticated clients to their limits: 429 with Retry-After beyond, audit by hashed id', async () => {
    const key = 'k-gold-0123456789';
    const keys = join(fx.dir, 'keys.yaml');
    writeFileSync(
      keys,
      // Queue timeouts far beyond any wait here: a queued request is answered however busy the machine is.
      `anonymous: { concurrency: 1, rps: 1000, queue: 1, queueTimeoutMs: 600000 }\ntiers:\n  gold: { concurrency: 4, rps: 1000, queue: 2, queueTimeoutMs: 600000 }\nkeys:\n  - { name: alice, tier: gold, sha256: ${hashKey(key)} }\n`,
    );
    const audit = join(fx.dir, 'audit.jsonl');
    // A 3 s batching delay keeps every request in progress long enough for the others to arrive, even on a
    // busy machine (they are sent at once; 400 ms was too tight there).
    const gw = await startGateway([
      ...['--repo', fx.repo, '--model', 'fmnist', '--replicas', '1', '--max-delay-ms', '3000'],
      ...['--api-keys', keys, '--audit-log', audit],
    ]);
    running.push(gw);
    const url = `${gw.url}/v1/models/fmnist:predict`;
    const body = { instances: examples(1) };
    const anon = await Promise.all(Array.from({ length: 5 }, () => post(url, body)));
    const anonCodes = anon.map((r) => r.status).sort();
    assert.deepEqual(anonCodes, [200, 200, 429, 429, 429], 'concurrency 1 + queue 1');
    const limited = anon.find((r) => r.status === 429)!;
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.match(String(limited.body.error), /rate limited/);

    const auth = await Promise.all(
      Array.from({ length: 8 }, () => post(url, body, { authorization: `Bearer ${key}` })),
    );
    const authCodes = auth.map((r) => r.status);
    assert.equal(authCodes.filter((c) => c === 200).length, 6, `concurrency 4 + queue 2: ${authCodes}`);
    assert.equal(authCodes.filter((c) => c === 429).length, 2);

    const bad = await post(url, body, { 'x-api-key': 'not-a-key' });
    assert.equal(bad.status, 401);
    assert.equal(await gw.stop(), 0);
    const lines = readFileSync(audit, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    // One line per client per flush period (10 s): a slow run spreads a client over several, so add them up.
    const total = (tier: string): Record<string, unknown> => {
      const mine = lines.filter((l) => l.tier === tier);
      assert.equal(new Set(mine.map((l) => l.client)).size, 1, `one ${tier} client`);
      const sum = (k: string) => mine.reduce((n, l) => n + Number(l[k]), 0);
      const first: Record<string, unknown> = mine[0]!;
      return { ...first, requests: sum('requests'), accepted: sum('accepted'), limited: sum('limited') };
    };
    const gold = total('gold');
    assert.deepEqual([gold.requests, gold.accepted, gold.limited, gold.name], [8, 6, 2, 'alice']);
    assert.match(String(gold.client), /^key:[0-9a-f]{16}$/);
    const anonLine = total('anonymous');
    assert.deepEqual([anonLine.accepted, anonLine.limited], [2, 3]);
    assert.ok(!readFileSync(audit, 'utf8').includes(key), 'the key itself is never written');
  });

  it('an audit log it cannot write never stops the gateway: failed writes are counted in /metrics', async () => {
    const keys = join(fx.dir, 'open.yaml');
    writeFileSync(keys, 'anonymous: { concurrency: 8, rps: 1000, queue: 8 }\n');
    // A directory where the log file should be: every append fails with EISDIR.
    const audit = join(fx.dir, 'audit-is-a-dir');
    mkdirSync(audit);
    const gw = await startGateway([
      ...['--repo', fx.repo, '--model', 'fmnist', '--replicas', '1'],
      ...['--api-keys', keys, '--audit-log', audit],
    ]);
    running.push(gw);
    const url = `${gw.url}/v1/models/fmnist:predict`;
    const body = { instances: examples(1) };
    const failures = async () => {
      const text = await (await fetch(`${gw.url}/metrics`)).text();
      return Number(/^distml_gateway_audit_write_failures_total (\d+)$/m.exec(text)?.[1] ?? NaN);
    };
    assert.equal(await failures(), 0);
    // Keep requests coming until a flush (every 10 s) has failed, up to a generous deadline.
    const codes: number[] = [];
    await waitFor(async () => {
      codes.push((await post(url, body)).status);
      return (await failures()) >= 1;
    }, 90_000);
    assert.ok(
      codes.every((c) => c === 200),
      `every request was served: ${codes.join(' ')}`,
    );
    assert.equal((await post(url, body)).status, 200, 'still serving after the failed write');
    assert.equal((await fetch(`${gw.url}/v2/health/ready`)).status, 200);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(text, /^distml_gateway_audit_lines_dropped_total [1-9]\d*$/m);
    assert.equal(await gw.stop(), 0, 'the final flush fails too, and the gateway still exits cleanly');
  });

  it('keeps each session on one replica with --balance consistent-hash, and holds a client to its token bucket', async () => {
    const keys = join(fx.dir, 'bucket.yaml');
    // One token every 100 s and a bucket of 3: the fourth request finds it empty, however slow the first three.
    writeFileSync(keys, 'anonymous: { concurrency: 8, rps: 0.01, burst: 3, queue: 0 }\n');
    const gw = await startGateway([
      ...['--repo', fx.repo, '--model', 'fmnist', '--replicas', '2', '--balance', 'consistent-hash'],
    ]);
    running.push(gw);
    await waitFor(async () => (await status(gw.url)).ready === 2, 60_000);
    const url = `${gw.url}/v1/models/fmnist:predict`;
    const body = { instances: examples(1) };
    const home = new Map<string, Set<string>>();
    for (let round = 0; round < 3; round++) {
      for (let s = 0; s < 12; s++) {
        const r = await post(url, body, { 'x-session-id': `session-${s}` });
        assert.equal(r.status, 200);
        const set = home.get(`session-${s}`) ?? new Set<string>();
        set.add(String(r.headers.get('x-distml-replica')));
        home.set(`session-${s}`, set);
      }
    }
    for (const [session, replicas] of home)
      assert.equal(replicas.size, 1, `${session} moved: ${[...replicas]}`);
    const used = new Set([...home.values()].map((r) => [...r][0]));
    assert.equal(used.size, 2, 'the sessions spread over both replicas');
    assert.equal(await gw.stop(), 0);

    const limited = await startGateway([
      ...['--repo', fx.repo, '--model', 'fmnist', '--replicas', '1', '--api-keys', keys],
    ]);
    running.push(limited);
    const codes: number[] = [];
    let retryAfter = 0;
    for (let i = 0; i < 5; i++) {
      const r = await post(`${limited.url}/v1/models/fmnist:predict`, body);
      codes.push(r.status);
      if (r.status === 429) retryAfter = Number(r.headers.get('retry-after'));
    }
    assert.deepEqual(codes, [200, 200, 200, 429, 429], 'a bucket of 3, no queue');
    assert.ok(retryAfter >= 1 && retryAfter <= 100, `Retry-After ${retryAfter} s for one token at 0.01/s`);
    assert.equal(await limited.stop(), 0);
  });

  it('splits a large request across replicas and returns the same results, in order, as unsharded requests', async () => {
    const gw = await startGateway([
      '--repo',
      fx.repo,
      '--model',
      'fmnist',
      '--replicas',
      '2',
      '--shard-threshold',
      '8',
    ]);
    running.push(gw);
    await waitFor(async () => (await status(gw.url)).ready === 2, 60_000, 'two ready replicas');
    const xs = examples(20);
    const sharded = await post(`${gw.url}/v1/models/fmnist:predict`, { instances: xs });
    assert.equal(sharded.status, 200);
    assert.equal(sharded.headers.get('x-distml-shards'), '2');
    const one = await Promise.all(
      xs.map((x) => post(`${gw.url}/v1/models/fmnist:predict`, { instances: [x] })),
    );
    const expected = one.map((r) => (r.body as Preds).predictions[0]);
    // Equal up to float rounding: libtorch's kernels round differently for different batch sizes.
    const close = (got: number[], want: number[]) => {
      assert.equal(got.length, want.length);
      got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-6, `${v} vs ${want[i]}`));
    };
    (sharded.body as Preds).predictions.forEach((row, i) => close(row, expected[i]!));
    const served = (await status(gw.url)).replicas.map((r) => r.served);
    assert.ok(
      served.every((n) => n > 0),
      `both replicas served: ${served}`,
    );

    // The same through KServe V2: a [20, 784] FP32 tensor.
    const v2 = await post(`${gw.url}/v2/models/fmnist/infer`, {
      inputs: [{ name: 'image_bytes', shape: [20, 784], datatype: 'FP32', data: xs.flat(2) }],
    });
    assert.equal(v2.status, 200, JSON.stringify(v2.body));
    const outs = v2.body.outputs as { name: string; shape: number[]; data: number[] }[];
    const probs = outs.find((o) => o.name === 'probabilities')!;
    assert.deepEqual(probs.shape, [20, 10]);
    close(probs.data, expected.flat() as number[]);
    assert.equal(outs.find((o) => o.name === 'class')!.data.length, 20);
    assert.equal(await gw.stop(), 0);
  });

  it("serves an ensemble: the average of both models, with each model's answer (V1 and V2)", async () => {
    const gw = await startGateway(['--repo', fx.repo, '--ensemble', 'fmnist,fmnist-2', '--replicas', '1']);
    running.push(gw);
    const xs = { instances: examples(3) };
    const [ens, a, b] = await Promise.all([
      post(`${gw.url}/v1/models/ensemble:predict`, xs),
      post(`${gw.url}/v1/models/fmnist:predict`, xs),
      post(`${gw.url}/v1/models/fmnist-2:predict`, xs),
    ]);
    assert.equal(ens.status, 200, JSON.stringify(ens.body));
    const pa = (a.body as Preds).predictions;
    const pb = (b.body as Preds).predictions;
    assert.notDeepEqual(pa, pb, 'two different models');
    const avg = (ens.body as Preds).predictions;
    avg.forEach((row, i) =>
      row.forEach((v, c) => assert.ok(Math.abs(v - (pa[i]![c]! + pb[i]![c]!) / 2) < 1e-7)),
    );
    assert.deepEqual((ens.body.models as Record<string, number[][]>)['fmnist'], pa);
    assert.deepEqual((ens.body.models as Record<string, number[][]>)['fmnist-2'], pb);

    const v2 = await post(`${gw.url}/v2/models/ensemble/infer`, {
      inputs: [{ name: 'image_bytes', shape: [3, 784], datatype: 'FP32', data: xs.instances.flat(2) }],
    });
    assert.equal(v2.status, 200, JSON.stringify(v2.body));
    const probs = (v2.body.outputs as { name: string; data: number[] }[])[0]!;
    probs.data.forEach((v, i) => assert.ok(Math.abs(v - avg.flat()[i]!) < 1e-6));
    assert.equal(
      (await fetch(`${gw.url}/v1/models/nope:predict`, { method: 'POST', body: '{}' })).status,
      404,
    );
    assert.equal(await gw.stop(), 0);
  });

  it('rejects bad gateway flags with exit 2 and a message naming the flag', async () => {
    const cases: [string[], RegExp][] = [
      [['--replicas', '0'], /--replicas/],
      [['--replicas', '2', '--balance', 'random'], /--balance: must be one of round-robin/],
      [['--autoscale', '--min', '3', '--max', '2'], /--min: must be at most --max/],
      [['--autoscale', '--stable-window', 'soon'], /--stable-window: must be a duration/],
      [['--autoscale', '--target-concurrency', '-1'], /--target-concurrency/],
      [['--replicas', '2', '--autoscale'], /--replicas/],
      [['--shard-threshold', '4'], /--shard-threshold: is a gateway flag/],
      [['--ensemble', 'only-one'], /--ensemble: must list at least two/],
    ];
    for (const [args, re] of cases) {
      const r = await runCli([
        'serve',
        '--local',
        '--repo',
        fx.repo,
        ...(args.includes('--ensemble') ? [] : ['--model', 'fmnist']),
        ...args,
        '--port',
        '0',
      ]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
  });

  it('prints the SHA-256 of a key for the keys file', async () => {
    const r = await runCli(['serve', '--hash-key', 'abc', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).sha256, hashKey('abc'));
  });
});
