import { readFileSync } from 'node:fs';
import { isNode, LineCounter, parseDocument, stringify, type Document } from 'yaml';
import type { z } from 'zod';
import { formatPath, WorkflowError, type SpecProblem } from '../errors.js';
import { liftInlineTemplates, originalPath } from './inline.js';
import { isObject, withoutKubernetesFields } from './kubernetes.js';
import { workflowSchema, type WorkflowInput, type WorkflowSpec } from './schema.js';
import { validateWorkflow } from './validate.js';

/**
 * Reads and validates a workflow YAML file. `onIgnored` hears the Kubernetes-only fields that running locally
 * leaves aside (each `path (line N): ignored when run locally ...`), so a command can list them once.
 */
export function loadWorkflowFile(file: string, onIgnored?: (ignored: string[]) => void): WorkflowSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new WorkflowError('WORKFLOW_SPEC_UNREADABLE', `cannot read ${file}: ${(err as Error).message}`);
  }
  const a = analyseWorkflowYaml(text);
  if (!a.spec) throw invalid(file, a.problems);
  if (a.ignored.length > 0) onIgnored?.(a.ignored);
  return a.spec;
}

/** Parses workflow YAML into a validated spec; every problem names its YAML path and line. */
export function parseWorkflowYaml(text: string, source = 'workflow'): WorkflowSpec {
  const a = analyseWorkflowYaml(text);
  if (!a.spec) throw invalid(source, a.problems);
  return a.spec;
}

/** What `distml lint` reports of a workflow: its problems, and the fields ignored when run locally. */
export interface WorkflowAnalysis {
  /** The validated spec, when there are no problems. */
  spec?: WorkflowSpec;
  /** Each as `path (line N): message`. */
  problems: string[];
  ignored: string[];
}

/** Parses and validates workflow YAML, collecting every problem instead of stopping at the first kind. */
export function analyseWorkflowYaml(text: string): WorkflowAnalysis {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      return `${pos ? `line ${pos.line}, column ${pos.col}` : 'YAML'}: ${e.message.split('\n')[0]}`;
    });
    return { problems, ignored: [] };
  }
  const at = (path: (string | number)[]) => lineOf(doc, lines, path);
  return analyse(doc.toJS() as unknown, at);
}

/** Validates a spec object (from YAML or the builder); throws WORKFLOW_SPEC_INVALID listing every problem. */
export function checkWorkflow(
  value: unknown,
  source = 'workflow',
  lineAt: (path: (string | number)[]) => number | undefined = () => undefined,
): WorkflowSpec {
  const a = analyse(value, lineAt);
  if (!a.spec) throw invalid(source, a.problems);
  return a.spec;
}

function analyse(
  value: unknown,
  lineAt: (path: (string | number)[]) => number | undefined,
): WorkflowAnalysis {
  const lifted = liftInlineTemplates(value);
  const render = (p: SpecProblem) => {
    const path = originalPath(p.path, lifted.origins);
    const line = lineAt(path);
    return `${formatPath(path) || '(top level)'}${line ? ` (line ${line})` : ''}: ${p.message}`;
  };
  const local = withoutKubernetesFields(withTemplateDefaults(lifted.value));
  const ignored = local.ignored.map(render);
  if (lifted.problems.length > 0) return { problems: lifted.problems.map(render), ignored };
  const r = workflowSchema.safeParse(local.value);
  if (!r.success) return { problems: zodProblems(r.error).map(render), ignored };
  const problems = validateWorkflow(r.data).map(render);
  return problems.length > 0 ? { problems, ignored } : { spec: r.data, problems, ignored };
}

/** The YAML text of a spec, as `distml get -o yaml` and the builder's export print it. */
export function workflowToYaml(spec: WorkflowSpec | WorkflowInput): string {
  return stringify(spec, { lineWidth: 0 });
}

function zodProblems(error: z.ZodError): SpecProblem[] {
  return error.issues.map((i) => {
    if (i.code === 'unrecognized_keys')
      return { path: i.path, message: `unknown field ${i.keys.map((k) => `"${k}"`).join(', ')}` };
    return { path: i.path, message: i.message === 'Required' ? 'is required' : i.message };
  });
}

function invalid(source: string, problems: string[]): WorkflowError {
  return new WorkflowError(
    'WORKFLOW_SPEC_INVALID',
    `${source} is not a valid workflow:\n${problems.map((p) => `  ${p}`).join('\n')}`,
    problems,
  );
}

function lineOf(doc: Document, lines: LineCounter, path: (string | number)[]): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const node = doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

const KIND_KEYS = ['steps', 'dag', 'container', 'script', 'distml', 'suspend'];

/** `a` under `b`: b's fields win, nested objects merge (Argo merges templateDefaults into each template). */
function mergeUnder(
  defaults: Record<string, unknown>,
  own: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...defaults };
  for (const [k, v] of Object.entries(own)) {
    const d = out[k];
    out[k] = isObject(d) && isObject(v) ? mergeUnder(d, v) : v;
  }
  return out;
}

/**
 * Applies `spec.templateDefaults` to every template. A default for a kind of template (`container: {…}`) only
 * reaches templates of that kind, so a DAG never becomes a container too.
 */
function withTemplateDefaults(value: unknown): unknown {
  if (!isObject(value) || !isObject(value.spec)) return value;
  const { templateDefaults, templates } = value.spec;
  if (!isObject(templateDefaults) || !Array.isArray(templates)) return value;
  const merged = templates.map((t: unknown) => {
    if (!isObject(t)) return t;
    const defaults = Object.fromEntries(
      Object.entries(templateDefaults).filter(([k]) => !KIND_KEYS.includes(k) || t[k] !== undefined),
    );
    return mergeUnder(defaults, t);
  });
  return { ...value, spec: { ...value.spec, templates: merged } };
}
