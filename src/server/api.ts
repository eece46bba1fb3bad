import type { JobStore, MetadataStore } from '../metadata/index.js';
import type { ResourcePool } from '../scheduler/index.js';
import type { Runs } from './runs.js';

/** What the API's handlers work with: the workspace's database, the scheduler, the runs this server drives, itself. */
export interface Api {
  store: MetadataStore;
  /** The workspace's job table and stored queue file. */
  jobs: JobStore;
  /** The machine's shared pool: the live scheduler every run's steps are admitted by. */
  pool: ResourcePool;
  runs: Runs;
  status(): Record<string, unknown>;
  shutdown(): void;
}
