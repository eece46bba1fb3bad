import { WorkflowError } from '../errors.js';

/** A workflow, template or step name: one path segment of letters, digits, '-' and '_'. */
export const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
/** metadata.generateName: the prefix of run names (a random suffix of 6 characters is added). */
export const GENERATE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;
/** A run name: generateName (or the workflow name) plus '-' and 5 random characters. */
const RUN_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,135}$/;

/** Throws unless `name` can be a run: it names the run's folder under <workspace>/runs. */
export function checkRunName(name: string): string {
  if (!RUN_NAME.test(name))
    throw new WorkflowError(
      'WORKFLOW_RUN_BAD_NAME',
      `run name "${name}" is not allowed: runs are named letters, digits, '-' and '_' (\`distml list\` shows them)`,
    );
  return name;
}
