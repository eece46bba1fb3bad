import type { MetadataStore } from '../metadata/index.js';
import type { Runs } from './runs.js';

/** What the API's handlers work with: the workspace's database, the runs this server drives, itself. */
export interface Api {
  store: MetadataStore;
  runs: Runs;
  status(): Record<string, unknown>;
  shutdown(): void;
}
