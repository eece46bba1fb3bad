import { existsSync, readFileSync } from 'node:fs';
import type { MetadataStore, NodeRecord } from '../metadata/index.js';
import { WorkflowError } from '../workflow/index.js';

export interface StepLogs {
  node: string;
  name: string;
  stdout: string;
  stderr: string;
}

/** The steps of a run that have logs, or the ones `step` names (display name, id, template, fan-out item). */
export function stepsWithLogs(store: MetadataStore, run: string, step?: string): NodeRecord[] {
  const nodes = store
    .listNodes(run)
    .filter(
      (n) =>
        n.logPath &&
        (!step || [n.displayName, n.id, n.template].includes(step) || n.displayName.startsWith(`${step}(`)),
    );
  if (step && nodes.length === 0)
    throw new WorkflowError(
      'WORKFLOW_STEP_NOT_FOUND',
      `run ${run} has no step "${step}" with logs; \`distml get ${run}\` lists the steps`,
    );
  return nodes;
}

/** The stdout and stderr of a run's steps (all, or the ones `step` names). */
export function collectLogs(store: MetadataStore, run: string, step?: string): StepLogs[] {
  const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : '');
  return stepsWithLogs(store, run, step).map((n) => ({
    node: n.id,
    name: n.displayName,
    stdout: read(n.logPath!),
    stderr: read(stderrPath(n.logPath!)),
  }));
}

export const stderrPath = (stdoutPath: string) => stdoutPath.replace(/\.stdout\.log$/, '.stderr.log');
