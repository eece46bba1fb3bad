// After a server died (SIGKILL, power loss), its runs are still Running in the database with an engine that
// no longer exists. The next server resumes the detached ones (nobody waits on them; succeeded steps are
// reused, the memo cache too) and marks the others Failed: the CLI that followed them has lost its server.
// Either way every process the dead engine left is ended first.
import type { MetadataStore } from '../metadata/index.js';
import { isEngineAlive, markStopped } from '../workflow/index.js';
import { readRunFile, type Runs } from './runs.js';

export interface Reconciled {
  resumed: string[];
  failed: string[];
}

export async function reconcile(
  store: MetadataStore,
  workspace: string,
  runs: Runs,
  log: (line: string) => void,
): Promise<Reconciled> {
  const out: Reconciled = { resumed: [], failed: [] };
  const orphans = store
    .listRuns()
    .filter((r) => (r.phase === 'Running' || r.phase === 'Pending') && !isEngineAlive(r));
  for (const run of orphans) {
    const engine = run.enginePid ? `its engine (pid ${run.enginePid})` : 'its engine';
    if (readRunFile(workspace, run.name)?.detached) {
      try {
        await runs.restart(run.name, 'resume', { detached: true });
        log(`reconcile: run ${run.name}: ${engine} died; resumed`);
        out.resumed.push(run.name);
        continue;
      } catch (err) {
        log(`reconcile: run ${run.name}: cannot resume: ${(err as Error).message}`);
      }
    }
    await markStopped(store, run.name);
    const message = `${engine} died with the server; \`distml resume ${run.name}\` continues it`;
    store.updateRun(run.name, { message });
    log(`reconcile: run ${run.name}: ${message}`);
    out.failed.push(run.name);
  }
  return out;
}
