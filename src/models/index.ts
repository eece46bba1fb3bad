// The models module's public face: the book's model specs, summaries, and the model package format.
export { ModelError, type ModelErrorCode } from './errors.js';
export { MODEL_NAMES, INPUT_NAME, bookModelSpec, isBookModel, type BookModelName } from './book.js';
export { formatSummary } from './summary.js';
export { workspaceScoreKey, attestScore, isAttested, ATTESTATION, SCORE_KEY_FILE } from './attestation.js';
export {
  encodeSafetensors,
  decodeSafetensors,
  f32Tensor,
  f32Values,
  type SafeTensor,
  type SafeDtype,
} from './safetensors.js';
export {
  savePackage,
  readPackage,
  loadModel,
  modelOf,
  buildManifest,
  sha256,
  MANIFEST,
  WEIGHTS,
  PACKAGE_FORMAT,
  type Manifest,
  type SavePackageInput,
  type LoadedPackage,
} from './package.js';
