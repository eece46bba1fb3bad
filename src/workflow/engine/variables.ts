import type { RunRecord } from '../../metadata/index.js';
import { DAYS, MONTHS, pad } from '../expr/lang/functions.js';
import type { WorkflowSpec } from '../spec/schema.js';

/** Argo's `workflow.creationTimestamp` is RFC 3339 to the second. */
const rfc3339 = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** The strftime characters Argo offers as `workflow.creationTimestamp.<C>`, in UTC. */
export function strftimeFields(ms: number): Record<string, string> {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const dayOfYear = Math.floor((ms - Date.UTC(y, 0, 1)) / 86_400_000) + 1;
  const h = d.getUTCHours();
  return {
    Y: String(y),
    y: pad(y % 100),
    C: pad(Math.floor(y / 100)),
    m: pad(d.getUTCMonth() + 1),
    B: MONTHS[d.getUTCMonth()] as string,
    b: (MONTHS[d.getUTCMonth()] as string).slice(0, 3),
    h: (MONTHS[d.getUTCMonth()] as string).slice(0, 3),
    d: pad(d.getUTCDate()),
    e: String(d.getUTCDate()).padStart(2, ' '),
    j: pad(dayOfYear, 3),
    A: DAYS[d.getUTCDay()] as string,
    a: (DAYS[d.getUTCDay()] as string).slice(0, 3),
    u: String(d.getUTCDay() || 7),
    w: String(d.getUTCDay()),
    H: pad(h),
    I: pad(h % 12 || 12),
    p: h < 12 ? 'AM' : 'PM',
    M: pad(d.getUTCMinutes()),
    S: pad(d.getUTCSeconds()),
    s: String(Math.floor(ms / 1000)),
    Z: 'UTC',
    z: '+0000',
    F: `${y}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`,
    T: `${pad(h)}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`,
    RFC3339: rfc3339(ms),
  };
}

/** The `workflow.*` variables every template of a run sees (Argo's global scope). */
export function workflowScope(name: string, spec: WorkflowSpec, record: RunRecord): Map<string, string> {
  const created = record.createdAt;
  const scope = new Map<string, string>([
    ['workflow.name', name],
    ['workflow.uid', name],
    ['workflow.namespace', 'local'],
    ['workflow.mainEntrypoint', spec.spec.entrypoint],
    ['workflow.serviceAccountName', spec.spec.serviceAccountName ?? 'default'],
    ['workflow.creationTimestamp', rfc3339(created)],
    ['workflow.priority', String(spec.spec.priority ?? 0)],
    ['workflow.status', 'Running'],
    ['workflow.duration', '0'],
    [
      'workflow.parameters',
      JSON.stringify(Object.entries(record.parameters).map(([n, v]) => ({ name: n, value: v }))),
    ],
    [
      'workflow.parameters.json',
      JSON.stringify(Object.entries(record.parameters).map(([n, v]) => ({ name: n, value: v }))),
    ],
  ]);
  for (const [c, v] of Object.entries(strftimeFields(created)))
    scope.set(`workflow.creationTimestamp.${c}`, v);
  for (const [k, v] of Object.entries(record.parameters)) scope.set(`workflow.parameters.${k}`, v);
  for (const kind of ['labels', 'annotations'] as const) {
    const values = (spec.metadata[kind] ?? {}) as Record<string, string>;
    scope.set(`workflow.${kind}.json`, JSON.stringify(values));
    for (const [k, v] of Object.entries(values)) scope.set(`workflow.${kind}.${k}`, v);
  }
  return scope;
}
