/** Stable codes of workflow failures a user can act on. */
export type WorkflowErrorCode =
  | 'WORKFLOW_SPEC_INVALID'
  | 'WORKFLOW_SPEC_UNREADABLE'
  | 'WORKFLOW_PARAMETER_MISSING'
  | 'WORKFLOW_RUN_ACTIVE'
  | 'WORKFLOW_RUN_FINISHED'
  | 'WORKFLOW_RUN_FAILED'
  /** A run name that cannot be one path segment (runs/<name>). */
  | 'WORKFLOW_RUN_BAD_NAME'
  | 'WORKFLOW_STEP_NOT_FOUND';

/** A workflow problem: an invalid spec (with its YAML path), a missing parameter, a run in the wrong state. */
export class WorkflowError extends Error {
  override readonly name = 'WorkflowError';
  /** Its message is written for users (the CLI prints it as is): the shape every module's error has. */
  readonly userFacing = true;
  constructor(
    readonly code: WorkflowErrorCode,
    message: string,
    /** For WORKFLOW_SPEC_INVALID: every problem found, each `path: message`. */
    readonly problems: string[] = [],
  ) {
    super(message);
  }
}

/** One spec problem at a YAML path such as `spec.templates[2].dag.tasks[1].depends`. */
export interface SpecProblem {
  path: (string | number)[];
  message: string;
}

/** Renders a path the way kubectl and Argo print them: `spec.templates[2].dag.tasks[1].depends`. */
export function formatPath(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}
