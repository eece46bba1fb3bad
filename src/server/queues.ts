// The live queue file: `distml queue apply` while the server runs sends it here. It is checked, swapped into
// the scheduler at once (pending jobs are reconsidered in the same breath; running ones keep their leases),
// then stored for the next start. A file that drops a queue or priority class an active run or job still
// uses is refused, and the configuration in force stays.
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { parseQueueConfig, type QueueConfig } from '../scheduler/index.js';
import type { Api } from './api.js';
import { parseBody } from './body.js';
import { ServerError } from './errors.js';

const applyBody = z
  .object({
    yaml: z.string({ message: 'must be the queue file as YAML text' }).min(1, 'must not be empty'),
    /** What error messages call the file (the CLI sends its path). */
    source: z.string().min(1, 'must not be empty').optional(),
  })
  .strict();

/** The queues in force: quota, usage, share, running and pending per ClusterQueue, and the priority classes. */
export function queuesView(api: Api) {
  const { config } = api.pool.scheduler;
  return {
    queues: api.pool.scheduler.queues(),
    localQueues: config.localQueues,
    priorityClasses: config.priorityClasses,
    defaultPriorityClass: config.defaultPriorityClass ?? null,
    appliedAt: appliedAt(api),
  };
}

/** PUT /api/v1/queues: checks the file, makes it the live configuration, stores it. */
export async function applyQueues(api: Api, req: IncomingMessage) {
  const b = await parseBody(req, applyBody);
  const config = parseQueueConfig(b.yaml, b.source ?? 'body.yaml');
  refuseStrandedRuns(api, config);
  const before = api.pool.scheduler.config;
  api.pool.reconfigure(config);
  try {
    api.jobs.applyQueueConfig(b.yaml);
  } catch (err) {
    api.pool.reconfigure(before); // not stored: the server goes on as the stored file says
    throw err;
  }
  return queuesView(api);
}

/** An active run admits its later steps in its queue at its priority: the file must keep both. */
function refuseStrandedRuns(api: Api, config: QueueConfig): void {
  const queues = new Set([...config.clusterQueues, ...config.localQueues].map((q) => q.name));
  const classes = new Set(config.priorityClasses.map((p) => p.name));
  const stranded = api.runs.jobs().flatMap(({ run, job }) => {
    const missing = [
      ...(queues.has(job.queue) ? [] : [`queue ${job.queue}`]),
      ...(job.priorityClass && !classes.has(job.priorityClass)
        ? [`priority class ${job.priorityClass}`]
        : []),
    ];
    return missing.length ? [`run ${run} (${missing.join(', ')})`] : [];
  });
  if (stranded.length)
    throw new ServerError(
      'SERVER_QUEUE_IN_USE',
      `the queue file drops what active runs use: ${stranded.join('; ')}; keep those queues and priority classes until the runs end (\`distml stop RUN\` ends one), then apply it again`,
      409,
    );
}

function appliedAt(api: Api): string | null {
  const at = api.jobs.queueConfig()?.appliedAt;
  return at === undefined ? null : new Date(at).toISOString();
}
