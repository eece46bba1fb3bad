// From the live scheduler's snapshots to the workspace database (metadata/JobStore).
import type { JobRow, JobStore } from '../metadata/index.js';
import { defaultQueueConfig, parseQueueConfig } from './config.js';
import type { QueueConfig } from './config-types.js';
import type { Snapshot } from './live.js';

/** The queue file in force in a workspace (`distml queue apply`), or the default (one queue, the machine). */
export function appliedQueueConfig(jobs: JobStore): QueueConfig {
  const applied = jobs.queueConfig();
  return applied ? parseQueueConfig(applied.yaml, 'the applied queue file') : defaultQueueConfig();
}

/** Rows for every job of a snapshot, with why-pending, position and estimated start for the pending ones. */
export function jobRows(s: Snapshot): JobRow[] {
  const pending = new Map(s.pending.map((p) => [p.id, p]));
  return s.jobs.map((j) => {
    const p = pending.get(j.id);
    return {
      id: j.id,
      user: j.user,
      group: j.group,
      queue: j.queue,
      priorityClass: j.priorityClass ?? null,
      priority: j.priority,
      phase: j.phase,
      members: j.members,
      cores: j.request.cores,
      memory: j.request.memory,
      submittedAt: j.submittedAt,
      admittedAt: j.admittedAt ?? null,
      preemptions: j.preemptions,
      whyCode: p?.code ?? null,
      whyMessage: p?.message ?? null,
      position: p?.position ?? null,
      estimatedStartAt: p?.estimatedStartMs ?? null,
    };
  });
}

/** An `onCycle` for LiveScheduler that keeps the job table current. */
export const persistTo =
  (store: JobStore) =>
  (s: Snapshot): void =>
    store.save(jobRows(s), s.now);
