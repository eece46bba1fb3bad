import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { JobStore, MetadataStore } from '../../metadata/index.js';
import { appliedQueueConfig, parseQueueConfig } from '../../scheduler/index.js';
import { connect } from '../../server/index.js';
import { CommandError, type Command } from '../command.js';
import { table } from '../output.js';

export const queueApply: Command = {
  path: ['queue', 'apply'],
  summary:
    'check a queue file (Kueue vocabulary) and make it the workspace’s queues, shares and priorities (a running server uses it at once)',
  usage: 'FILE',
  options: {},
  async run({ positionals, global, out }) {
    const file = positionals[0];
    if (!file)
      throw new CommandError('CLI_QUEUE_FILE_MISSING', 'give the queue file: distml queue apply queues.yaml');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new CommandError('CLI_QUEUE_FILE_MISSING', `cannot read ${file}: ${(err as Error).message}`);
    }
    const config = parseQueueConfig(text, file);
    // A running server checks it against its active jobs, uses it at once and stores it; else it is stored
    // for the next server to read at its start.
    const server = await connect(global.workspace);
    if (server) await server.call('PUT', '/api/v1/queues', { yaml: text, source: file });
    else {
      const store = MetadataStore.open(global.workspace);
      try {
        new JobStore(store.db).applyQueueConfig(text);
      } finally {
        store.close();
      }
    }
    out.result(
      {
        queues: config.clusterQueues.map((q) => q.name),
        priorityClasses: config.priorityClasses.map((p) => p.name),
        live: server !== null,
      },
      () =>
        `applied ${file}: ${config.clusterQueues.length} queue(s), ${config.priorityClasses.length} priority class(es), ${config.groups.length} group(s)${server ? '; the running server uses it now' : ''}`,
    );
  },
};

export const queueList: Command = {
  path: ['queue', 'ls'],
  summary: 'list queues: nominal quota, usage, share of the machine, running and pending jobs',
  usage: '',
  options: {},
  async run({ global, out }) {
    const store = MetadataStore.open(global.workspace);
    try {
      const jobs = new JobStore(store.db);
      const config = appliedQueueConfig(jobs);
      const cores = availableParallelism();
      const local = new Map(config.localQueues.map((l) => [l.name, l.clusterQueue]));
      const rows = config.clusterQueues.map((q) => {
        const mine = jobs.list().filter((j) => (local.get(j.queue) ?? j.queue) === q.name);
        const running = mine.filter((j) => j.phase === 'running' || j.phase === 'stopping');
        const used = running.reduce((a, j) => a + j.cores, 0);
        return {
          name: q.name,
          cohort: q.cohort ?? null,
          nominalCores: q.nominalQuota?.cores ?? cores,
          usedCores: used,
          share: used / cores,
          running: running.length,
          pending: mine.filter((j) => j.phase === 'pending').length,
        };
      });
      out.result(rows, () =>
        table([
          ['QUEUE', 'COHORT', 'NOMINAL CORES', 'USED', 'SHARE', 'RUNNING', 'PENDING'],
          ...rows.map((r) => [
            r.name,
            r.cohort ?? '',
            String(r.nominalCores),
            String(+r.usedCores.toFixed(2)),
            `${(r.share * 100).toFixed(1)}%`,
            String(r.running),
            String(r.pending),
          ]),
        ]),
      );
    } finally {
      store.close();
    }
  },
};

export const jobsCommand: Command = {
  path: ['jobs'],
  summary: 'list scheduler jobs: state, user, queue, priority, position and why each pending job waits',
  usage: '',
  options: {},
  async run({ global, out }) {
    const store = MetadataStore.open(global.workspace);
    try {
      const rows = new JobStore(store.db).list();
      out.result(rows, () =>
        rows.length === 0
          ? 'no jobs yet'
          : table([
              ['JOB', 'STATE', 'USER', 'QUEUE', 'PRIORITY', 'POS', 'WHY PENDING'],
              ...rows.map((j) => [
                j.id,
                j.phase,
                j.user,
                j.queue,
                j.priorityClass ?? String(j.priority),
                j.position === null ? '' : String(j.position),
                j.whyCode ? `${j.whyCode}: ${j.whyMessage ?? ''}` : '',
              ]),
            ]),
      );
    } finally {
      store.close();
    }
  },
};
