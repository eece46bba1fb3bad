// What one scheduling cycle carries between its steps, and the two moves every step makes.
import type { Core } from './core.js';
import type { Decision, Job, PendingCode } from './job.js';
import type { Resources } from './resources.js';

/** Resources held for one waiting job: nobody ranked after it may take them unless it ends first. */
export interface Hold {
  id: string;
  need: Resources;
  plannedStart?: number;
}

export interface Cycle {
  now: number;
  out: Decision[];
  hold?: Hold;
}

export function admit(core: Core, c: Cycle, job: Job, members: number): void {
  core.admit(job, members, c.now);
  c.out.push({ kind: 'admit', id: job.spec.id, members });
}

/** Records why `job` waits; `message` is only built if someone asks (most cycles nobody does). */
export function setWhy(core: Core, job: Job, code: PendingCode, message: string | (() => string)): void {
  job.why = { code, message, cycle: core.cycle };
}
