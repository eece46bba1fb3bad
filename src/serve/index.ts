// The serve module's public face: the model server (TF Serving REST / KServe V1 and V2), its inputs,
// dynamic batching and version management.
export { ServeError, httpStatus, type ServeErrorCode } from './errors.js';
export { ModelServer, type ModelServerOptions, type ServerEvent } from './server.js';
export { DEFAULT_MAX_BODY, readBody, type BodyErrors } from './body.js';
export {
  DynamicBatcher,
  DEFAULT_MAX_QUEUE,
  DEFAULT_QUEUE_DEADLINE_MS,
  type BatcherOptions,
  type PredictFn,
} from './batcher.js';
export { ModelVersions, type LoadedVersion, type VersionEvent, type VersionStatus } from './versions.js';
export { imageToInput, MAX_IMAGE_SIDE } from './inputs/image.js';
export { imageHeader, type ImageHeader } from './inputs/header.js';
export { DEFAULT_MAX_DECODE_BYTES, DEFAULT_MAX_DECODE_PIXELS, ImageDecoder } from './inputs/decode.js';
export { decodeBase64, examplesToInputs, PIXELS } from './inputs/instances.js';
export * from './gateway/index.js';
