// The registry module's public face: the versioned model repository and model selection.
export { RegistryError, type RegistryErrorCode } from './errors.js';
export {
  checkModelName,
  latestVersion,
  listModels,
  listVersions,
  modelPath,
  publish,
  versionPath,
  type Published,
} from './repository.js';
export {
  testSplit,
  type TestSplit,
  select,
  selectionTargets,
  SELECTION_METRICS,
  type CandidateResult,
  type SelectionMetric,
  type SelectOptions,
  type SelectReport,
} from './select.js';
