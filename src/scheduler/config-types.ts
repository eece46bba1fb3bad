// The typed queue configuration (what config.ts parses a queue file into).
import type { Resources } from './resources.js';

/** Quota per resource; a missing resource is unlimited (the machine still bounds it). */
export type Quota = Partial<Resources>;

export interface CohortConfig {
  name: string;
  parentName?: string;
  /** fairSharing.weight: the cohort's part of its parent (or of the machine) against its siblings' (share-tree.ts). */
  weight: number;
}

export interface ClusterQueueConfig {
  name: string;
  cohort?: string;
  /** Undefined: the whole machine. */
  nominalQuota?: Quota;
  /** How much more than its nominal quota the queue may take from its cohort; undefined: no limit. */
  borrowingLimit?: Quota;
  /** How much of its unused nominal quota the cohort may take; undefined: all of it. */
  lendingLimit?: Quota;
  /** fairSharing.weight: the queue's part of its cohort (or, outside any cohort, of the machine) against its siblings'. */
  weight: number;
  /**
   * preemption.reclaimWithinCohort (Kueue's field): whether a job of this queue, within its nominal quota, may
   * evict jobs of queues that borrow from the cohort. `Never` (default, as Kueue), `LowerPriority`, `Any`
   * (any priority up to the job's own: a reclaim never evicts a higher-priority job).
   */
  reclaimWithinCohort: 'Never' | 'LowerPriority' | 'Any';
}

export interface QueueConfig {
  cohorts: CohortConfig[];
  clusterQueues: ClusterQueueConfig[];
  localQueues: { name: string; clusterQueue: string }[];
  priorityClasses: { name: string; value: number; description?: string }[];
  /** Priority class of a job that names none; undefined: value 0. */
  defaultPriorityClass?: string;
  /** Users not listed in any group share the implicit group `default` (weight 1). */
  groups: { name: string; weight: number; users: { name: string; weight: number }[] }[];
  preemption: { minRunTimeMs: number; gracePeriodMs: number };
  /** Half-life of past usage in the fair-share order (Kueue admissionFairSharing.usageHalfLifeTime). */
  usageHalfLifeMs: number;
}
