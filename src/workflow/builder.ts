import { checkWorkflow } from './spec/parse.js';
import type { BuiltinKind, TemplateInput, WorkflowInput, WorkflowSpec } from './spec/schema.js';

type Params = Record<string, string | number>;
const params = (p: Params = {}) => Object.entries(p).map(([name, value]) => ({ name, value: String(value) }));

/** Options every template may set besides its body. */
export type TemplateOptions = Omit<
  TemplateInput,
  'name' | 'steps' | 'dag' | 'container' | 'script' | 'distml' | 'inputs'
> & {
  /** Input parameter names, or name → default value. */
  inputs?: string[] | Params;
  /** Input artifacts: name → the path the step finds it at. */
  inputArtifacts?: Record<string, string>;
};

function base(name: string, o: TemplateOptions = {}): TemplateInput {
  const { inputs, inputArtifacts, ...rest } = o;
  const parameters = Array.isArray(inputs)
    ? inputs.map((n) => ({ name: n }))
    : Object.entries(inputs ?? {}).map(([n, v]) => ({ name: n, default: String(v) }));
  const artifacts = Object.entries(inputArtifacts ?? {}).map(([n, path]) => ({ name: n, path }));
  return {
    name,
    ...(inputs || inputArtifacts ? { inputs: { parameters, artifacts } } : {}),
    ...rest,
  };
}

/** A step or DAG task calling `template` with arguments. */
export interface CallOptions {
  arguments?: Params;
  /** Artifact arguments: name → `from` (e.g. `{{tasks.train.outputs.artifacts.model}}`). */
  artifacts?: Record<string, string>;
  when?: string;
  withItems?: unknown[];
  withParam?: string;
  /** Let the workflow go on when this step fails (Argo's continueOn). */
  continueOn?: { failed?: boolean; error?: boolean };
}

export const step = (name: string, template: string, o: CallOptions = {}) => ({
  name,
  template,
  ...(o.arguments || o.artifacts
    ? {
        arguments: {
          parameters: params(o.arguments),
          artifacts: Object.entries(o.artifacts ?? {}).map(([n, from]) => ({ name: n, from })),
        },
      }
    : {}),
  ...(o.when !== undefined ? { when: o.when } : {}),
  ...(o.withItems ? { withItems: o.withItems } : {}),
  ...(o.withParam !== undefined ? { withParam: o.withParam } : {}),
  ...(o.continueOn ? { continueOn: o.continueOn } : {}),
});

export const task = (
  name: string,
  template: string,
  o: CallOptions & { depends?: string; dependencies?: string[] } = {},
) => ({
  ...step(name, template, o),
  ...(o.depends !== undefined ? { depends: o.depends } : {}),
  ...(o.dependencies ? { dependencies: o.dependencies } : {}),
});

/** Templates, one constructor per kind. */
export const templates = {
  steps: (name: string, groups: ReturnType<typeof step>[][], o?: TemplateOptions): TemplateInput => ({
    ...base(name, o),
    steps: groups,
  }),
  dag: (name: string, tasks: ReturnType<typeof task>[], o?: TemplateOptions): TemplateInput => ({
    ...base(name, o),
    dag: { tasks },
  }),
  container: (
    name: string,
    command: string[],
    o: TemplateOptions & { args?: string[]; env?: Params; workingDir?: string } = {},
  ): TemplateInput => {
    const { args, env, workingDir, ...rest } = o;
    return {
      ...base(name, rest),
      container: { command, args: args ?? [], env: params(env), ...(workingDir ? { workingDir } : {}) },
    };
  },
  script: (name: string, source: string, o: TemplateOptions & { command?: string[] } = {}): TemplateInput => {
    const { command, ...rest } = o;
    return { ...base(name, rest), script: { command: command ?? ['sh'], source } };
  },
  distml: (
    name: string,
    kind: BuiltinKind,
    withValues: Record<string, string | string[]>,
    o?: TemplateOptions,
  ): TemplateInput => ({
    ...base(name, o),
    distml: { kind, with: withValues },
  }),
};

/** A whole workflow; validated exactly as YAML is, so a builder mistake fails with the same precise errors. */
export function workflow(o: {
  generateName: string;
  entrypoint: string;
  parameters?: Params;
  templates: TemplateInput[];
  onExit?: string;
}): WorkflowSpec {
  const input: WorkflowInput = {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Workflow',
    metadata: { generateName: o.generateName },
    spec: {
      entrypoint: o.entrypoint,
      arguments: { parameters: params(o.parameters) },
      templates: o.templates,
      ...(o.onExit ? { onExit: o.onExit } : {}),
    },
  };
  return checkWorkflow(input, `workflow ${o.generateName}`);
}
