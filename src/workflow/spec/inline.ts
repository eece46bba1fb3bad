// Argo's inline templates (docs/inline-templates.md): a step or task may carry its template in `inline:`
// instead of naming one. Before validation each is lifted into spec.templates under a fresh name, so the rest
// of the engine sees named templates only; problems found in a lifted template are reported at its `inline:`.
import type { SpecProblem } from '../errors.js';
import { isObject } from './kubernetes.js';
import { NAME } from './names.js';

type Path = (string | number)[];

/** The workflow with inline templates lifted, where each lifted template came from, and misuse found. */
export interface Lifted {
  value: unknown;
  /** Index in spec.templates of a lifted template → the path of the `inline:` it came from. */
  origins: Map<number, Path>;
  problems: SpecProblem[];
}

/** Lifts every `inline:` template of the steps and DAG tasks of `value` (a workflow object) into spec.templates. */
export function liftInlineTemplates(value: unknown): Lifted {
  const origins = new Map<number, Path>();
  const problems: SpecProblem[] = [];
  if (!isObject(value) || !isObject(value.spec) || !Array.isArray(value.spec.templates))
    return { value, origins, problems };
  const templates = [...(value.spec.templates as unknown[])];
  const taken = new Set(templates.map((t) => (isObject(t) ? String(t.name) : '')));
  const lift = (owner: string, call: Record<string, unknown>, at: Path): Record<string, unknown> => {
    if (!isObject(call) || call.inline === undefined) return call;
    if (call.template !== undefined) {
      problems.push({ path: at, message: 'set either template or inline, not both' });
      return call;
    }
    if (!isObject(call.inline)) {
      problems.push({ path: [...at, 'inline'], message: 'must be a template (a mapping)' });
      return call;
    }
    let name = `${owner}-${String(call.name)}`.slice(0, 120);
    const stem = NAME.test(owner) ? `${owner.slice(0, 100)}-inline` : 'inline';
    for (let n = 2; taken.has(name) || !NAME.test(name); n++) name = `${stem}-${n}`;
    taken.add(name);
    origins.set(templates.length, [...at, 'inline']);
    templates.push({ ...call.inline, name });
    const { inline: _inline, ...rest } = call;
    return { ...rest, template: name };
  };
  const count = templates.length;
  for (let i = 0; i < count; i++) {
    const t = templates[i];
    if (!isObject(t)) continue;
    const owner = String(t.name);
    const base = ['spec', 'templates', i];
    if (Array.isArray(t.steps)) {
      const steps = t.steps.map((group: unknown, g) =>
        Array.isArray(group)
          ? group.map((s: unknown, j) => (isObject(s) ? lift(owner, s, [...base, 'steps', g, j]) : s))
          : group,
      );
      templates[i] = { ...t, steps };
    } else if (isObject(t.dag) && Array.isArray(t.dag.tasks)) {
      const tasks = t.dag.tasks.map((k: unknown, j) =>
        isObject(k) ? lift(owner, k, [...base, 'dag', 'tasks', j]) : k,
      );
      templates[i] = { ...t, dag: { ...t.dag, tasks } };
    }
  }
  return { value: { ...value, spec: { ...value.spec, templates } }, origins, problems };
}

/** A problem's path as the user wrote the workflow (inside the `inline:` a lifted template came from). */
export function originalPath(path: Path, origins: Map<number, Path>): Path {
  if (path[0] !== 'spec' || path[1] !== 'templates' || typeof path[2] !== 'number') return path;
  const origin = origins.get(path[2]);
  return origin ? [...origin, ...path.slice(3)] : path;
}
