// A simulated machine for scheduler tests: virtual time, jobs that do what decisions say at once.
import { type Decision, type JobSpec, parseQueueConfig, Scheduler } from '../../src/scheduler/index.js';

export const GiB = 2 ** 30;

/** A scheduler on `cores` cores (and 1 TiB) with the queue file `yaml` (default: one queue, high/medium/low). */
export function machine(cores: number, yaml?: string): Scheduler {
  const config = parseQueueConfig(
    yaml ??
      [
        'clusterQueues: [{ name: default }]',
        'priorityClasses: [{ name: high, value: 1000 }, { name: medium, value: 500 }, { name: low, value: 100 }]',
        'preemption: { minRunTime: 0s, gracePeriod: 30s }',
      ].join('\n'),
    'test',
  );
  return new Scheduler(config, { cores, memory: 1024 * GiB });
}

/** A job spec with defaults: one member of one core in queue `default`. */
export function job(
  id: string,
  user: string,
  o: Partial<JobSpec> & { cores?: number; count?: number } = {},
): JobSpec {
  const { cores = 1, count = 1, ...rest } = o;
  return { id, user, queue: 'default', gang: { count, perMember: { cores, memory: 0 } }, ...rest };
}

/** An elastic job of 1-core members between `min` and `max`. */
export function elastic(
  id: string,
  user: string,
  min: number,
  max: number,
  o: Partial<JobSpec> = {},
): JobSpec {
  return job(id, user, { count: max, elastic: { min, max }, ...o });
}

export const ids = (ds: Decision[], kind: Decision['kind']): string[] =>
  ds.filter((d) => d.kind === kind).map((d) => d.id);

/** Members each running job holds. */
export function members(s: Scheduler): Record<string, number> {
  return Object.fromEntries(
    s
      .jobs()
      .filter((j) => j.phase === 'running')
      .map((j) => [j.id, j.members]),
  );
}

/**
 * Runs users who always have work waiting on `s` in virtual time until `untilMs`, each job running its
 * promised time limit, and returns the core·ms each user received between `fromMs` and `untilMs`.
 * `next(user, i)` gives a user's i-th job (cores, minutes, queue); every user keeps `depth` (default 20) jobs waiting.
 */
export function backlogged(
  s: Scheduler,
  users: string[],
  next: (user: string, i: number) => { cores: number; minutes: number; queue?: string },
  o: { fromMs: number; untilMs: number; depth?: number },
): Map<string, number> {
  const got = new Map(users.map((u) => [u, 0]));
  const limit = new Map<string, { user: string; cores: number; ms: number }>();
  const running = new Map<string, { start: number; end: number }>();
  const count = new Map(users.map((u) => [u, 0]));
  const credit = (id: string, start: number, end: number): void => {
    const j = limit.get(id)!;
    const ms = Math.min(end, o.untilMs) - Math.max(start, o.fromMs);
    if (ms > 0) got.set(j.user, got.get(j.user)! + ms * j.cores);
  };
  const submit = (user: string, now: number): void => {
    const i = count.get(user)!;
    count.set(user, i + 1);
    const { cores, minutes, queue = 'default' } = next(user, i);
    const id = `${user}-${i}`;
    limit.set(id, { user, cores, ms: minutes * 60_000 });
    s.submit(job(id, user, { cores, queue, timeLimitMs: minutes * 60_000 }), now);
  };
  for (const u of users) for (let k = 0; k < (o.depth ?? 20); k++) submit(u, 0);
  for (let now = 0; now < o.untilMs;) {
    for (const d of s.decide(now)) {
      if (d.kind !== 'admit') continue;
      running.set(d.id, { start: now, end: now + limit.get(d.id)!.ms });
      submit(limit.get(d.id)!.user, now);
    }
    const t = Math.min(...[...running.values()].map((r) => r.end));
    for (const [id, r] of running) {
      if (r.end !== t) continue;
      credit(id, r.start, r.end);
      running.delete(id);
      s.finish(id, t);
    }
    now = t;
  }
  for (const [id, r] of running) credit(id, r.start, r.end);
  return got;
}
