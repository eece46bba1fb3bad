// `distml queue apply` while the workspace's server runs: the server uses the new file for every later
// decision without a restart (a step waiting on its queue's quota starts at once, running ones keep their
// cores), refuses a malformed file or one that drops a queue an active run uses, and keeps the old one then.
// Also: `distml run` with an unknown queue or priority class fails naming the valid ones; the server stays up.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { JobStore, MetadataStore } from '../../src/metadata/index.js';
import { api, cli, oneStep, sandbox, startServer, status, stopServer, until } from './helpers.js';

const QUOTA = (cores: number) =>
  `clusterQueues: [{ name: default, nominalQuota: { cores: ${cores} } }]\npriorityClasses: [{ name: normal, value: 1 }]\n`;

interface QueueView {
  name: string;
  nominal: { cores: number };
  running: number;
  pending: number;
}

const queues = async (ws: string) =>
  (await api(ws, 'GET', '/api/v1/queues')).json as unknown as {
    queues: QueueView[];
    priorityClasses: { name: string }[];
  };

async function submit(ws: string, file: string): Promise<string> {
  const r = await cli(['run', file, '--detach', '--json', `--workspace=${ws}`]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return (JSON.parse(r.stdout) as { run: string }).run;
}

describe('live queue file (distml queue apply with a running server)', { timeout: 300_000 }, () => {
  it('admits a step waiting on quota at once, keeps running ones, refuses bad or stranding files', async () => {
    const box = sandbox();
    const apply = (name: string, yaml: string, json = false) =>
      cli(['queue', 'apply', box.file(name, yaml), `--workspace=${box.ws}`, ...(json ? ['--json'] : [])]);
    try {
      assert.equal((await apply('q1.yaml', QUOTA(1))).code, 0);
      await startServer(box.ws, ['--cores=2']);
      const gate = join(box.dir, 'gate');
      const step = (marker: string) =>
        oneStep('hold', `touch ${marker}; while [ ! -e ${gate} ]; do sleep 0.2; done`, 1);
      const a = await submit(box.ws, box.file('a.yaml', step(join(box.dir, 'a-started'))));
      await until(
        'run a to hold its core',
        60_000,
        () => existsSync(join(box.dir, 'a-started')) || undefined,
      );
      const b = await submit(box.ws, box.file('b.yaml', step(join(box.dir, 'b-started'))));
      await until("run b's step to wait on the queue's quota", 60_000, async () => {
        const q = (await queues(box.ws)).queues[0]!;
        return q.pending === 1 && q.running === 1 ? true : undefined;
      });
      assert.equal(existsSync(join(box.dir, 'b-started')), false, 'b waits: the quota is 1 core');

      const ok = await apply('q2.yaml', QUOTA(2), true);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal((JSON.parse(ok.stdout) as { live: boolean }).live, true);
      await until('run b to start under the new quota', 60_000, () =>
        existsSync(join(box.dir, 'b-started')) ? true : undefined,
      );
      const q2 = (await queues(box.ws)).queues[0]!;
      assert.deepEqual([q2.nominal.cores, q2.running, q2.pending], [2, 2, 0], 'a kept its core, b has one');

      const bad = await apply(
        'bad.yaml',
        'clusterQueues:\n  - { name: default, nominalQuota: { cores: lots } }\n',
      );
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /clusterQueues\[0\]\.nominalQuota\.cores: cores "lots" is not a number/);
      const sent = await api(box.ws, 'PUT', '/api/v1/queues', { yaml: 'clusterQueues: [{ name: Bad }]' });
      assert.equal(sent.status, 400, 'the route checks the file itself');
      assert.match(
        String(sent.json.error),
        /body\.yaml is not a valid queue configuration:\n {2}- clusterQueues\[0\]\.name: must be a lowercase/,
      );

      const drop = 'clusterQueues: [{ name: other }]\npriorityClasses: [{ name: normal, value: 1 }]\n';
      const refused = await apply('drop.yaml', drop);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, new RegExp(`run ${a} \\(queue default\\)`));
      assert.match(refused.stderr, new RegExp(`run ${b} \\(queue default\\)`));
      const kept = await queues(box.ws);
      assert.deepEqual(
        kept.queues.map((q) => [q.name, q.nominal.cores]),
        [['default', 2]],
        'the old file stays in force',
      );

      writeFileSync(gate, '');
      for (const run of [a, b])
        assert.equal(
          await until(`${run} to end`, 60_000, async () => {
            const s = await status(box.ws, run);
            return s.phase === 'Running' || s.phase === 'Pending' ? undefined : s.phase;
          }),
          'Succeeded',
        );
      // Their engines are done too (the phase is written just before an engine ends).
      await until('no active run', 60_000, async () => {
        const runs = (await api(box.ws, 'GET', '/api/v1/status')).json['runs'] as unknown[];
        return runs.length === 0 ? true : undefined;
      });
      const later = await apply('drop2.yaml', drop);
      assert.equal(later.code, 0, `accepted once no run uses the queue: ${later.stderr}`);
      assert.deepEqual(
        (await queues(box.ws)).queues.map((q) => q.name),
        ['other'],
      );
      const store = MetadataStore.open(box.ws);
      try {
        assert.equal(new JobStore(store.db).queueConfig()?.yaml, drop, 'stored for the next start');
      } finally {
        store.close();
      }
    } finally {
      await stopServer(box.ws);
      box.cleanup();
    }
  });

  it('refuses `run --queue nope` and `--priority nope` naming the valid ones; the server stays up', async () => {
    const box = sandbox();
    try {
      const q = box.file(
        'q.yaml',
        'clusterQueues: [{ name: research }, { name: prod }]\nlocalQueues: [{ name: team-a, clusterQueue: research }]\npriorityClasses: [{ name: high, value: 10 }, { name: low, value: 1 }]\n',
      );
      assert.equal((await cli(['queue', 'apply', q, `--workspace=${box.ws}`])).code, 0);
      const info = await startServer(box.ws, ['--cores=1']);
      const flow = box.file('flow.yaml', oneStep('never', 'true'));
      const run = (flag: string) => cli(['run', flow, '--detach', flag, `--workspace=${box.ws}`]);
      const queue = await run('--queue=nope');
      assert.equal(queue.code, 1, queue.stdout + queue.stderr);
      assert.match(
        queue.stderr,
        /queue "nope" is not in the workspace's queue file \(queues: research, prod, team-a\)/,
      );
      const priority = await run('--priority=nope');
      assert.equal(priority.code, 1, priority.stdout + priority.stderr);
      assert.match(
        priority.stderr,
        /priority class "nope" is not in the workspace's queue file \(classes: high, low\)/,
      );
      const up = await api(box.ws, 'GET', '/api/v1/status');
      assert.equal(up.status, 200);
      assert.equal(up.json['pid'], info.pid, 'the same server still answers');
      assert.deepEqual(up.json['runs'], [], 'no run was started');
      assert.equal((await api(box.ws, 'GET', '/api/v1/runs')).json.length, 0, 'nor recorded');
      // Without --priority, the workflow's numeric spec.priority picks the class (5 → low, value 1).
      const ranked = box.file(
        'ranked.yaml',
        oneStep('ranked', 'true', 1).replace('spec:\n', 'spec:\n  priority: 5\n'),
      );
      const r = await cli(['run', ranked, '--json', `--workspace=${box.ws}`]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const store = MetadataStore.open(box.ws);
      try {
        const rows = new JobStore(store.db).list().filter((j) => j.id.startsWith('ranked-'));
        assert.deepEqual(
          rows.map((j) => j.priorityClass),
          ['low'],
        );
      } finally {
        store.close();
      }
    } finally {
      await stopServer(box.ws);
      box.cleanup();
    }
  });
});
