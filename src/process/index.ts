// Processes with an owner: every process distml starts (steps, gateways' replicas, training workers) dies
// with the process that started it, and is found again by pid and start time, never by pid alone.
export { commandLineOf, findByEnv, isRunning, processRef, startTimeOf, type ProcessRef } from './identity.js';
export { ownerGone, ownerToken, OWNER_ENV, spawnOwned } from './owned.js';
export { DEFAULT_GRACE_MS, signalProcess, terminate, type TerminateOptions } from './terminate.js';
