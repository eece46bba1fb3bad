// The durable module's public face: files, directories and pointers that a crash never leaves half-written,
// and a per-resource lock that a crashed holder does not keep.
export { DurableError, type DurableErrorCode } from './errors.js';
export {
  createDirAtomic,
  fsyncDir,
  removeDirAtomic,
  replaceDirAtomic,
  resolveDir,
  writeFileAtomic,
  type DirFiles,
} from './atomic.js';
export { acquireLock, isAlive, processStartTime, withLock, type HeldLock, type LockOptions } from './lock.js';
