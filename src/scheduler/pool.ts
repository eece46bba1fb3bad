import type { QueueConfig } from './config-types.js';
import { LiveScheduler, type Snapshot } from './live.js';

export interface PoolOptions {
  /** Total cores steps may hold at once. */
  cores: number;
  /** Total memory in bytes steps may hold at once. */
  memory: number;
  /** Queues, shares and priorities; default one queue with the whole machine. */
  config?: QueueConfig;
  /** User and queue the engine's steps run as. */
  user?: string;
  queue?: string;
  /** Called after cycles (e.g. persistTo(jobStore), so `distml jobs` shows the steps). */
  onCycle?: (s: Snapshot) => void;
}

/**
 * The local machine's cores and memory, as the workflow engine has always asked for them
 * (`acquire(owner, request, signal)`), now handed out by the scheduler: one queue by default, where a request
 * that does not fit holds the machine for itself, so a later smaller one does not overtake it (unless it
 * promised to end first), and a request for nothing starts at once.
 */
export class ResourcePool extends LiveScheduler {
  constructor(readonly poolOptions: PoolOptions) {
    super({
      capacity: { cores: poolOptions.cores, memory: poolOptions.memory },
      config: poolOptions.config,
      user: poolOptions.user,
      queue: poolOptions.queue,
      onCycle: poolOptions.onCycle,
    });
  }
}
