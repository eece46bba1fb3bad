// The data module's public face: sources, IDX codec, the lazy dataset pipeline, caches and Fashion-MNIST.
export { DataError, type DataErrorCode } from './errors.js';
export { parseIdxHeader, openIdx, readIdx, encodeIdx, type IdxHeader, type IdxStream } from './idx.js';
export { Dataset, type Source, type Stream, type ShardPolicy } from './dataset.js';
export { MemoryCache, DiskCache, type ElementCache, type ElementCodec, type CacheStats } from './cache.js';
export { fileSha256, hashFiles, sha256 } from './fingerprint.js';
export { downloadFile, type DownloadProgress, type DownloadOptions } from './download.js';
export { mulberry32, mixSeed, fnv1a } from './random.js';
export {
  CLASS_NAMES,
  CANONICAL,
  FILE_NAMES,
  IMAGE_HEIGHT,
  IMAGE_WIDTH,
  IMAGE_SIZE,
  splitDataset,
  scale,
  scaledExampleCodec,
  collate,
  type Split,
  type SplitFiles,
  type Example,
  type ScaledExample,
  type ExampleBatch,
  type CorruptPolicy,
  type CorruptRecord,
  type SplitOptions,
} from './fashion-mnist.js';
export { resolveFashionMnist, DEBIAN_DIR, type ResolveOptions, type ResolvedSource } from './sources.js';
export { scaledSplit, makeCache, dataCacheDir, type CacheKind, type ScaledSplitOptions } from './prepare.js';
export { prepareFashionMnist, type PrepareOptions, type PrepareReport, type SplitReport } from './prepare.js';
