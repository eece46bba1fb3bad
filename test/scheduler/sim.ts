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
