import { z } from 'zod';
import { GENERATE_NAME, NAME } from './names.js';

/** Argo parameter values are strings; YAML numbers and booleans are accepted and kept as their text. */
const scalar = z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v));
// Workflow, template and step names become one path segment (run folders, log files), like model names:
// no '/', no '..', no empty or overlong name.
const name = z
  .string({ message: 'is required' })
  .regex(
    NAME,
    'must be letters, digits, "-" or "_" (starting with a letter or digit), at most 128 characters',
  );

const inputParameter = z
  .object({ name, value: scalar.optional(), default: scalar.optional(), description: z.string().optional() })
  .strict();

const argumentParameter = z.object({ name, value: scalar }).strict();

/** Argo's raw artifact: the file's content written in the spec. */
const raw = z.object({ data: z.string() }).strict();
/** An artifact handed to a template: from another step's output (`from`), or written out (`raw`). */
const argumentArtifact = z
  .object({
    name,
    /** `{{steps.X.outputs.artifacts.Y}}`, `{{tasks.X.outputs.artifacts.Y}}`, `{{inputs.artifacts.Y}}`, `{{workflow.outputs.artifacts.G}}`. */
    from: z.string().optional(),
    raw: raw.optional(),
    /** One file or folder inside a folder artifact. */
    subPath: z.string().optional(),
  })
  .strict()
  .refine((a) => (a.from === undefined) !== (a.raw === undefined), {
    message: 'must set exactly one of from, raw',
  });
const argumentsSchema = z
  .object({
    parameters: z.array(argumentParameter).default([]),
    artifacts: z.array(argumentArtifact).default([]),
  })
  .strict();

/** Where a template's input artifact is put (`path`) and where it may come from when not passed. */
const inputArtifact = z
  .object({
    name,
    path: z.string().min(1).optional(),
    from: z.string().optional(),
    raw: raw.optional(),
    /** A missing artifact is not an error: the path is left empty. */
    optional: z.boolean().optional(),
    /** File permissions of the restored file, e.g. 0755. */
    mode: z.coerce.number().int().min(0).max(0o7777).optional(),
  })
  .strict();

/** Argo's archive strategy: `none: {}` or `tar: {compressionLevel}` (the default: tar, gzip-compressed). */
const archiveSchema = z
  .object({
    none: z.object({}).strict().optional(),
    tar: z
      .object({ compressionLevel: z.coerce.number().int().min(0).max(9).optional() })
      .strict()
      .optional(),
  })
  .strict()
  .refine((a) => (a.none === undefined) !== (a.tar === undefined), {
    message: 'must set exactly one of none, tar',
  });

/** A file or folder a template produces: at `path` (leaf steps) or `from` a child (steps and dag templates). */
const outputArtifact = z
  .object({
    name,
    path: z.string().min(1).optional(),
    from: z.string().optional(),
    /** For steps and dag templates: an expression choosing a child's artifact (`a ? steps.x.outputs.artifacts.y : …`). */
    fromExpression: z.string().optional(),
    archive: archiveSchema.optional(),
    /** A step that did not write it still succeeds. */
    optional: z.boolean().optional(),
    /** Also published as `{{workflow.outputs.artifacts.<globalName>}}` and in the run's outputs. */
    globalName: name.optional(),
  })
  .strict()
  .refine((a) => [a.path, a.from, a.fromExpression].filter((x) => x !== undefined).length === 1, {
    message: 'must set exactly one of path, from, fromExpression',
  });

const outputParameter = z
  .object({
    name,
    /** Also published for the whole run as `{{workflow.outputs.parameters.<globalName>}}`. */
    globalName: name.optional(),
    default: scalar.optional(),
    valueFrom: z
      .object({
        /** A file the step wrote (relative to its working directory). */
        path: z.string().optional(),
        /** A field of the JSON document the step printed on stdout, e.g. `train.count`. */
        jsonPath: z.string().optional(),
        /** For steps and dag templates: a tag over their children, e.g. `{{steps.a.outputs.result}}`. */
        parameter: z.string().optional(),
        /** For steps and dag templates: an expression over their children (`steps['a'].outputs.result`). */
        expression: z.string().optional(),
        /** For suspend templates: the value a person gives (`distml node set RUN --output-parameter`). */
        supplied: z.object({}).strict().optional(),
        /** The value when the source is missing (a file not written, a child skipped). */
        default: scalar.optional(),
      })
      .strict()
      .refine(
        (v) =>
          [v.path, v.jsonPath, v.parameter, v.expression, v.supplied].filter((x) => x !== undefined)
            .length === 1,
        { message: 'must set exactly one of path, jsonPath, parameter, expression, supplied' },
      ),
  })
  .strict();

/** Argo's withSequence: numbers from start to end (or count of them), each formatted with a printf format. */
const sequenceSchema = z
  .object({
    count: scalar.optional(),
    start: scalar.optional(),
    end: scalar.optional(),
    format: z.string().optional(),
  })
  .strict()
  .refine((v) => (v.count === undefined) !== (v.end === undefined), {
    message: 'must set exactly one of count, end',
  });

/**
 * Argo's lifecycle hooks: `exit` runs once its step (or the workflow) has ended, whatever the outcome; any other
 * name needs an `expression`, and runs once, beside its step, the first time the expression is true.
 */
const hookSchema = z
  .object({ template: name, arguments: argumentsSchema.optional(), expression: z.string().optional() })
  .strict();
const hooks = z.record(name, hookSchema).optional();

const fanOut = {
  withItems: z.array(z.unknown()).optional(),
  withParam: z.string().optional(),
  withSequence: sequenceSchema.optional(),
};

/** How many children may run at once (Argo accepts a number or its text). */
const parallelism = z.coerce.number().int().min(1, 'must be at least 1').optional();

const stepSchema = z
  .object({
    name,
    template: name,
    arguments: argumentsSchema.optional(),
    when: z.string().optional(),
    hooks,
    /** Argo's older form of `hooks.exit` (a template run once the step has ended). */
    onExit: name.optional(),
    continueOn: z
      .object({ failed: z.boolean().optional(), error: z.boolean().optional() })
      .strict()
      .optional(),
    ...fanOut,
  })
  .strict();

const taskSchema = z
  .object({
    name,
    template: name,
    arguments: argumentsSchema.optional(),
    dependencies: z.array(z.string()).optional(),
    depends: z.string().optional(),
    when: z.string().optional(),
    hooks,
    /** Argo's older form of `hooks.exit` (a template run once the step has ended). */
    onExit: name.optional(),
    continueOn: z
      .object({ failed: z.boolean().optional(), error: z.boolean().optional() })
      .strict()
      .optional(),
    ...fanOut,
  })
  .strict();

const envVar = z.object({ name: z.string().min(1), value: scalar }).strict();
const processFields = {
  /** Accepted for Argo compatibility and ignored: steps run on this machine, not in containers. */
  image: z.string().optional(),
  args: z.array(scalar).default([]),
  env: z.array(envVar).default([]),
  workingDir: z.string().optional(),
};

const containerSchema = z
  .object({ command: z.array(scalar).min(1, 'must name the executable'), ...processFields })
  .strict();
const scriptSchema = z
  .object({ command: z.array(scalar).min(1).default(['sh']), source: z.string(), ...processFields })
  .strict();

export const BUILTIN_KINDS = ['ingest', 'train', 'evaluate', 'select', 'serve', 'predict'] as const;
const distmlSchema = z
  .object({
    kind: z.enum(BUILTIN_KINDS, { message: `must be one of ${BUILTIN_KINDS.join(', ')}` }),
    with: z.record(z.union([scalar, z.array(scalar)])).default({}),
  })
  .strict();

const durationText = z.union([z.string(), z.number()]).transform((v) => String(v));

const templateSchema = z
  .object({
    name,
    inputs: z
      .object({
        parameters: z.array(inputParameter).default([]),
        artifacts: z.array(inputArtifact).default([]),
      })
      .strict()
      .optional(),
    outputs: z
      .object({
        parameters: z.array(outputParameter).default([]),
        artifacts: z.array(outputArtifact).default([]),
      })
      .strict()
      .optional(),
    steps: z.array(z.array(stepSchema)).optional(),
    dag: z
      .object({
        tasks: z.array(taskSchema).min(1, 'must have at least one task'),
        /** Argo's default: once a task fails, start no new task (running ones finish). */
        failFast: z.boolean().optional(),
        /** Space-separated task names: run only these and what they depend on. */
        target: z.string().optional(),
      })
      .strict()
      .optional(),
    parallelism,
    /** Steps templates: once a child (an item of a fan-out) fails, start no more of them (Argo's failFast). */
    failFast: z.boolean().optional(),
    /** Annotations of the node; `workflows.argoproj.io/display-name` names it (tags allowed). */
    annotations: z.record(z.string()).optional(),
    /** Labels and annotations Argo puts on the step's pod; kept on the node here. */
    metadata: z
      .object({ labels: z.record(z.string()).optional(), annotations: z.record(z.string()).optional() })
      .strict()
      .optional(),
    container: containerSchema.optional(),
    script: scriptSchema.optional(),
    /** Argo's suspend template: waits for `distml resume RUN`, or at most `duration` (seconds or "2m"). */
    suspend: z.object({ duration: durationText.optional() }).strict().optional(),
    distml: distmlSchema.optional(),
    retryStrategy: z
      .object({
        limit: z.coerce.number().int().min(0).default(0),
        retryPolicy: z.enum(['Always', 'OnFailure', 'OnError', 'OnTransientError']).default('OnFailure'),
        backoff: z
          .object({
            duration: durationText.optional(),
            factor: z.coerce.number().positive().optional(),
            /** The longest single delay. */
            cap: durationText.optional(),
            /** The longest time spent retrying, from the first attempt's start. */
            maxDuration: durationText.optional(),
          })
          .strict()
          .optional(),
        /** Retry only while this expression (over `lastRetry.*`) is true. */
        expression: z.string().optional(),
      })
      .strict()
      .optional(),
    memoize: z
      .object({
        key: z.string().min(1),
        maxAge: durationText.optional(),
        cache: z.object({ configMap: z.object({ name }).strict() }).strict(),
      })
      .strict()
      .optional(),
    /** Kill the step if it runs longer than this. */
    activeDeadlineSeconds: z.coerce.number().positive().optional(),
    /** The node's whole time, retries included (Argo's template timeout, e.g. "30s"). */
    timeout: durationText.optional(),
    /** distml extension: what the step takes from the local resource pool before it starts. */
    resources: z
      .object({
        cores: z.coerce.number().min(0).optional(),
        memory: z.union([z.string(), z.number()]).optional(),
      })
      .strict()
      .optional(),
    /** Argo daemon steps: ready once they print their first stdout line, stopped when the run ends. */
    daemon: z.boolean().optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    const kinds = (['steps', 'dag', 'container', 'script', 'distml', 'suspend'] as const).filter(
      (k) => t[k] !== undefined,
    );
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message:
          kinds.length === 0
            ? 'must define one of steps, dag, container, script, distml, suspend'
            : `defines ${kinds.join(' and ')}; a template is exactly one of steps, dag, container, script, distml, suspend`,
      });
    }
  });

export const workflowSchema = z
  .object({
    apiVersion: z.string().default('argoproj.io/v1alpha1'),
    kind: z.literal('Workflow', { message: 'must be Workflow' }),
    metadata: z
      .object({
        name: name.optional(),
        generateName: z
          .string()
          .regex(
            GENERATE_NAME,
            'must be letters, digits, "-" or "_" (starting with a letter or digit), at most 100 characters: ' +
              'the run is named after it',
          )
          .optional(),
        labels: z.record(z.string()).optional(),
      })
      .passthrough()
      .default({}),
    spec: z
      .object({
        entrypoint: name,
        arguments: z
          .object({
            parameters: z.array(inputParameter).default([]),
            /** Artifacts for the entrypoint's inputs (raw content: there is no external store here). */
            artifacts: z.array(argumentArtifact).default([]),
          })
          .strict()
          .default({ parameters: [], artifacts: [] }),
        templates: z.array(templateSchema).min(1, 'must have at least one template'),
        /** Fields every template gets unless it sets them itself (merged by checkWorkflow before validation). */
        templateDefaults: z.record(z.unknown()).optional(),
        /** At most this many steps (pods) of the run at once. */
        parallelism,
        /** The run's priority, `{{workflow.priority}}`; higher runs are admitted first. */
        priority: z.coerce.number().int().optional(),
        onExit: name.optional(),
        /** Workflow lifecycle hooks: `exit` is the exit handler (with arguments); others run on an expression. */
        hooks,
        /** Argo's podGC; distml applies OnPodSuccess to step scratch dirs whatever is set here. */
        podGC: z.object({ strategy: z.string() }).passthrough().optional(),
        serviceAccountName: z.string().optional(),
      })
      .strict(),
  })
  .strict();

export type WorkflowSpec = z.infer<typeof workflowSchema>;
export type WorkflowInput = z.input<typeof workflowSchema>;
export type Template = WorkflowSpec['spec']['templates'][number];
export type TemplateInput = z.input<typeof templateSchema>;
export type Step = z.infer<typeof stepSchema>;
export type DagTask = z.infer<typeof taskSchema>;
export type InputArtifact = z.infer<typeof inputArtifact>;
export type OutputArtifact = z.infer<typeof outputArtifact>;
export type ArgumentArtifact = z.infer<typeof argumentArtifact>;
export type Hooks = NonNullable<Step['hooks']>;
export type BuiltinKind = (typeof BUILTIN_KINDS)[number];

/** A step's or task's hooks, its older `onExit: TEMPLATE` being the `exit` hook (validation refuses both). */
export function stepHooks(s: { hooks?: Hooks; onExit?: string }): Hooks | undefined {
  if (s.onExit === undefined) return s.hooks;
  return { ...s.hooks, exit: s.hooks?.exit ?? { template: s.onExit } };
}

/** Which of the six kinds a template is. */
export function templateKind(t: Template): 'steps' | 'dag' | 'container' | 'script' | 'distml' | 'suspend' {
  if (t.steps) return 'steps';
  if (t.dag) return 'dag';
  if (t.container) return 'container';
  if (t.script) return 'script';
  if (t.suspend) return 'suspend';
  return 'distml';
}
