// Argo fields that only mean something on Kubernetes (where a pod is scheduled, which account it runs as,
// which volumes it mounts...). A workflow written for a cluster keeps them; run locally, they are taken out
// before validation and listed once as "ignored when run locally" — never silently dropped, never refused.
// Fields the local engine could honour but does not yet stay unknown to the schema, so they are refused by name.
import type { SpecProblem } from '../errors.js';

type Path = (string | number)[];

/** Fields of `spec` (WorkflowSpec) that describe pods, accounts, volumes, retention or a cluster's services. */
const SPEC_FIELDS = [
  'affinity',
  'archiveLogs',
  'artifactGC',
  'artifactRepositoryRef',
  'automountServiceAccountToken',
  'dnsConfig',
  'dnsPolicy',
  'executor',
  'hostAliases',
  'hostNetwork',
  'imagePullSecrets',
  'metrics',
  'nodeSelector',
  'podDisruptionBudget',
  'podGC',
  'podMetadata',
  'podPriorityClassName',
  'podResources',
  'podSpecPatch',
  'priorityClassName',
  'resourceClaims',
  'schedulerName',
  'securityContext',
  'serviceAccountName',
  'tolerations',
  'ttlStrategy',
  'volumeClaimGC',
  'volumeClaimTemplates',
  'volumes',
  'workflowMetadata',
];

/** Fields of a template that describe its pod rather than what it runs. */
const TEMPLATE_FIELDS = [
  'affinity',
  'archiveLocation',
  'automountServiceAccountToken',
  'executor',
  'hostAliases',
  'metrics',
  'nodeSelector',
  'podResources',
  'podSpecPatch',
  'priorityClassName',
  'resourceClaims',
  'schedulerName',
  'securityContext',
  'serviceAccountName',
  'tolerations',
  'volumes',
];

/** Fields of a container or script that only a container runtime uses. */
const CONTAINER_FIELDS = [
  'imagePullPolicy',
  'lifecycle',
  'livenessProbe',
  'ports',
  'readinessProbe',
  'resources',
  'securityContext',
  'startupProbe',
  'stdin',
  'stdinOnce',
  'terminationMessagePath',
  'terminationMessagePolicy',
  'tty',
  'volumeDevices',
  'volumeMounts',
];

/**
 * Why some fields are left aside rather than refused (Argo's meaning, decided field by field). A volume's claim
 * or mount only gives a pod files it would not otherwise see: a local step already shares this machine's file
 * system, so nothing is created or mounted (a step that expects a fresh volume at its mountPath sees the host's
 * path instead). archiveLocation only chooses the cluster's artifact store: locally, outputs and logs stay in
 * the workspace.
 */
const WHY: Record<string, string> = {
  volumeClaimTemplates: "no volume is created; steps share this machine's file system",
  volumes: "no volume is created; steps share this machine's file system",
  volumeMounts: "nothing is mounted; the step sees this machine's file system at that path",
  archiveLocation: 'outputs and logs stay in the workspace',
  archiveLogs: 'logs stay in the workspace',
};

/** A YAML mapping (not a list, not a scalar). */
export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function strip(
  obj: Record<string, unknown>,
  fields: string[],
  path: Path,
  out: SpecProblem[],
): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (fields.includes(k))
      out.push({
        path: [...path, k],
        message: `ignored when run locally (Kubernetes only${WHY[k] ? `: ${WHY[k]}` : ''})`,
      });
    else kept[k] = v;
  }
  return kept;
}

/**
 * A copy of a workflow without its Kubernetes-only fields, and where each was. `podGC` and
 * `serviceAccountName` are kept too (the engine reads them) but still listed.
 */
export function withoutKubernetesFields(value: unknown): { value: unknown; ignored: SpecProblem[] } {
  const ignored: SpecProblem[] = [];
  if (!isObject(value) || !isObject(value.spec)) return { value, ignored };
  const spec = strip(value.spec, SPEC_FIELDS, ['spec'], ignored);
  for (const keep of ['podGC', 'serviceAccountName'])
    if (value.spec[keep] !== undefined) spec[keep] = value.spec[keep];
  if (Array.isArray(spec.templates)) {
    spec.templates = spec.templates.map((t: unknown, i) => {
      if (!isObject(t)) return t;
      const tmpl = strip(t, TEMPLATE_FIELDS, ['spec', 'templates', i], ignored);
      for (const kind of ['container', 'script']) {
        if (isObject(tmpl[kind]))
          tmpl[kind] = strip(tmpl[kind], CONTAINER_FIELDS, ['spec', 'templates', i, kind], ignored);
      }
      return tmpl;
    });
  }
  return { value: { ...value, spec }, ignored };
}
