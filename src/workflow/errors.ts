/** Stable codes of workflow failures a user can act on. */
export type WorkflowErrorCode =
  | 'SPEC_INVALID'
  | 'SPEC_UNREADABLE'
  | 'PARAMETER_MISSING'
  | 'RUN_ACTIVE'
  | 'RUN_FINISHED'
  | 'RUN_FAILED'
  | 'RUN_NOT_FOUND'
  /** A run name that cannot be one path segment (runs/<name>). */
  | 'RUN_BAD_NAME'
  | 'STEP_NOT_FOUND';

/** A workflow problem: an invalid spec (with its YAML path), a missing parameter, a run in the wrong state. */
export class WorkflowError extends Error {
  override readonly name = 'WorkflowError';
  constructor(
    readonly code: WorkflowErrorCode,
    message: string,
    /** For SPEC_INVALID: every problem found, each `path: message`. */
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
