export { MetadataError } from './errors.js';
export { JobStore, type JobRow } from './jobs.js';
export { SCHEMA_VERSION } from './schema.js';
export {
  NODE_PHASES,
  type ArtifactRecord,
  type MemoEntry,
  type MemoizationStatus,
  type NodeOutputs,
  type NodePatch,
  type NodePhase,
  type NodeRecord,
  type RunPhase,
  type RunRecord,
  type StoredArtifact,
} from './records.js';
export { MetadataStore } from './store.js';
