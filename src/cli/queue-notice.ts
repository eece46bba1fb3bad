import type { MetadataStore } from '../metadata/index.js';
import type { Output } from './output.js';
import { QUIET_WAIT_MS } from './wait-notice.js';

/**
 * In a plain log, a step waiting in the resource queue ("waiting for 2 cores") gets no event of its own: the
 * node stays Pending. Once such a wait has lasted a few seconds its line says so, once per wait.
 */
export function announceQueuedSteps(store: MetadataStore, run: string, out: Output): () => void {
  const said = new Set<string>();
  const seen = new Map<string, number>();
  const timer = setInterval(() => {
    try {
      for (const n of store.listNodes(run)) {
        const key = `${n.id}\n${n.message ?? ''}`;
        if (n.phase !== 'Pending' || !n.message?.startsWith('waiting') || said.has(key)) continue;
        const since = seen.get(key) ?? Date.now();
        seen.set(key, since);
        if (Date.now() - since < QUIET_WAIT_MS) continue;
        said.add(key);
        out.event({
          event: 'node',
          run,
          node: n.id,
          name: n.displayName,
          phase: n.phase,
          message: n.message,
        });
      }
    } catch {
      // the run's database is closing: nothing left to announce
    }
  }, 1000);
  timer.unref();
  return () => clearInterval(timer);
}
