import { isFailure, type NodeResult } from './context.js';

const asJson = (s: string): unknown => {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
};

/**
 * Makes `steps.X.*` / `tasks.X.*` visible to later steps. A single call publishes its result, exit code and each
 * output parameter; a fan-out publishes JSON lists (fan-in): `outputs.result` holds every item's result,
 * `outputs.parameters.P` every item's P, and `outputs.parameters` one object per item (as Argo does).
 */
export function publish(
  scope: Map<string, string>,
  key: string,
  results: NodeResult[],
  fanned: boolean,
): void {
  const done = results.filter((r) => r.phase !== 'Skipped' && r.phase !== 'Omitted');
  scope.set(
    `${key}.status`,
    done.some((r) => isFailure(r.phase)) ? 'Failed' : done.length ? 'Succeeded' : 'Skipped',
  );
  if (!fanned) {
    const r = results[0]!;
    if (r.outputs.result !== undefined) scope.set(`${key}.outputs.result`, r.outputs.result);
    if (r.outputs.exitCode !== undefined) scope.set(`${key}.exitCode`, String(r.outputs.exitCode));
    for (const [k, v] of Object.entries(r.outputs.parameters ?? {}))
      scope.set(`${key}.outputs.parameters.${k}`, v);
    for (const a of r.outputs.artifacts ?? [])
      scope.set(`${key}.outputs.artifacts.${a.name}`, JSON.stringify(a));
    return;
  }
  scope.set(`${key}.outputs.result`, JSON.stringify(done.map((r) => asJson(r.outputs.result ?? ''))));
  const names = new Set(done.flatMap((r) => Object.keys(r.outputs.parameters ?? {})));
  for (const n of names) {
    scope.set(
      `${key}.outputs.parameters.${n}`,
      JSON.stringify(done.map((r) => r.outputs.parameters?.[n] ?? null)),
    );
  }
  if (names.size > 0)
    scope.set(`${key}.outputs.parameters`, JSON.stringify(done.map((r) => r.outputs.parameters ?? {})));
}
