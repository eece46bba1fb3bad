// A run as `distml list` and GET /api/v1/runs show it: one shape, whether the server answers or the CLI reads
// the database itself because no server runs.
import type { RunRecord } from '../metadata/index.js';
import { isEngineAlive } from '../workflow/index.js';

export interface RunRow {
  name: string;
  phase: string;
  message: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Recorded as active, but the engine that drove it has died (`distml resume` continues it). */
  engineGone: boolean;
}

/** True when the run is recorded as active but no engine drives it any more. */
export const engineGone = (r: RunRecord): boolean =>
  (r.phase === 'Running' || r.phase === 'Pending') && !isEngineAlive(r) && r.startedAt !== null;

export function runRow(r: RunRecord): RunRow {
  const at = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  return {
    name: r.name,
    phase: r.phase,
    message: r.message,
    createdAt: new Date(r.createdAt).toISOString(),
    startedAt: at(r.startedAt),
    finishedAt: at(r.finishedAt),
    engineGone: engineGone(r),
  };
}
