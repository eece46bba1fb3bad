import { setTimeout as sleep } from 'node:timers/promises';
import type { MetadataStore } from '../metadata/index.js';
import { signalProcess } from '../process/index.js';
import { isEngineAlive, markStopped, reapLeftovers } from '../workflow/index.js';

/** Longest a live engine of another process gets to stop its steps and run the exit handler. */
const ENGINE_STOP_MS = 60_000;

/**
 * Stops a run no server drives: a live engine of another process is asked (SIGTERM) and killed after
 * ENGINE_STOP_MS; a dead engine's leftovers are ended (SIGTERM, then SIGKILL), by pid and start time and by
 * the run's environment marker, and the run is marked Failed (Stopped).
 */
export async function stopUnownedRun(store: MetadataStore, name: string): Promise<void> {
  const active = () => ['Running', 'Pending'].includes(store.getRun(name).phase);
  const run = store.getRun(name);
  if (isEngineAlive(run)) {
    store.updateRun(name, { stopRequested: true });
    const engine = { pid: run.enginePid!, startTime: run.engineStart ?? 0 };
    if (run.engineStart !== null) signalProcess(engine, 'SIGTERM');
    else {
      try {
        process.kill(engine.pid, 'SIGTERM'); // a run recorded before start times were
      } catch {
        // it has just exited
      }
    }
    const deadline = Date.now() + ENGINE_STOP_MS;
    while (active() && isEngineAlive(store.getRun(name)) && Date.now() < deadline) await sleep(100);
    if (active() && run.engineStart !== null) signalProcess(engine, 'SIGKILL');
  }
  if (active()) await markStopped(store, name);
  else await reapLeftovers(store, name);
}
