// Which of Argo's own examples (argoproj/argo-workflows' examples/ folder) a local engine can be held to, and
// the phase Argo's e2e suite expects of each. Pure: it reads parsed YAML and a "is this program here" probe.
//
// Argo's rule (test/e2e/examples_test.go): every Workflow document is submitted and must end Succeeded,
// unless it carries the label `workflows.argoproj.io/no-test`, in which case it is skipped. Issue 12 holds
// the local engine to one more: `no-test: "expected-failure"` must end Failed.

/** What to expect of one Workflow document of an example file, or why it is not run here. */
export type Verdict =
  | { run: true; expect: 'Succeeded' | 'Failed' | 'Either'; skippedByArgo?: string }
  | { run: false; reason: string };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * `expected-failure` marks an example in which a step fails on purpose; a few of them still end Succeeded in
 * Argo because the failure is continued on. Argo's own functional suite states it (test/e2e/functional_test.go,
 * TestContinueOnFail: the run of continue-on-fail's workflow is waited for with ToBeSucceeded). By generateName.
 */
const SUCCEEDS_DESPITE_FAILURE = new Set(['continue-on-fail-']);

/**
 * `expected-failure` examples whose outcome is random by design: template-defaults' step exits
 * random.choice([0, 1, 1]) with 2 retries, so about 30% of runs fail and 70% succeed. Either phase counts.
 */
const RANDOM_OUTCOME = new Set(['template-defaults-']);

/** Programs every image the examples name provides and this machine has too (checked with `has`). */
const GENERIC_IMAGES =
  /^(alpine|busybox|bash|debian|ubuntu|python|node|centos|ghcr\.io\/linuxcontainers\/alpine)(:|$)/;

/** Programs the examples' images provide and a shell line of theirs may call. */
const IMAGE_PROGRAMS =
  /(?:^|[\s;&|("'])\/?(cowsay|argosay|kubectl|docker|influx|buildctl|git|curl|apk|jq)\b/g;

/** Every nested value under `v` with its key, depth first. */
function* walk(v: unknown, key = ''): Generator<[string, unknown]> {
  yield [key, v];
  if (Array.isArray(v)) for (const x of v) yield* walk(x, key);
  else if (isObj(v)) for (const [k, x] of Object.entries(v)) yield* walk(x, k);
}

/** Why a template cannot run here, or undefined. `has` says whether a program is on this machine's PATH. */
function templateBlocker(t: Obj, has: (program: string) => boolean): string | undefined {
  for (const kind of ['resource', 'http', 'plugin', 'containerSet', 'data']) {
    if (t[kind] !== undefined)
      return `${kind} template (${kind === 'resource' ? 'Kubernetes object' : 'not a local process'})`;
  }
  if (t.sidecars !== undefined || t.initContainers !== undefined) return 'sidecar or init container';
  const io = [t.inputs, t.outputs].filter(isObj);
  // Artifacts go through the workspace's local repository (inline `raw` ones too); an external store cannot.
  if (io.some((x) => x.artifacts !== undefined)) {
    const external = [...walk(io)].some(([k]) =>
      ['s3', 'gcs', 'git', 'http', 'oss', 'hdfs', 'azure', 'artifactory', 'plugin'].includes(k),
    );
    if (external) return 'external artifact store';
    // distml refuses these (README, private paths): making /x private would hide the machine's whole /.
    const rootPath = [...walk(io)].find(
      ([k, v]) => k === 'path' && typeof v === 'string' && /^\/[^/]+$/.test(v),
    );
    if (rootPath)
      return `artifact path ${String(rootPath[1])} directly in / (cannot be made private to a step here)`;
  }
  const p = (isObj(t.container) ? t.container : isObj(t.script) ? t.script : undefined) as Obj | undefined;
  if (p) {
    if (Array.isArray(p.volumeMounts) && p.volumeMounts.length > 0)
      return 'volume mounts (Kubernetes volumes)';
    const image = String(p.image ?? '');
    const command = Array.isArray(p.command) ? p.command.map(String) : t.script !== undefined ? ['sh'] : [];
    if (command.length === 0) return `image entrypoint (${image}) with no command`;
    const program = command[0]!.split('/').pop()!;
    // Programs an image provides that a shell line calls (`sh -c "cowsay hello"`).
    const text = [...command, ...(Array.isArray(p.args) ? p.args : []), String(p.source ?? '')].join(' ');
    for (const m of text.matchAll(IMAGE_PROGRAMS)) {
      if (!has(m[1]!)) return `image-specific program "${m[1]}" (${image})`;
    }
    if (!GENERIC_IMAGES.test(image) && !has(program)) return `image-specific program "${program}" (${image})`;
    if (!has(program)) return `program "${program}" is not on this machine`;
  }
  return undefined;
}

/** The verdict for one Workflow document (`doc` is its parsed YAML). */
export function classify(
  doc: unknown,
  has: (program: string) => boolean,
  opts: { withSkipped?: boolean } = {},
): Verdict {
  if (!isObj(doc)) return { run: false, reason: 'not a YAML mapping' };
  if (doc.kind !== 'Workflow') return { run: false, reason: `a ${String(doc.kind)}, not a Workflow` };
  const meta = isObj(doc.metadata) ? doc.metadata : {};
  const labels = isObj(meta.labels) ? meta.labels : {};
  const noTest = labels['workflows.argoproj.io/no-test'];
  const name = String(meta.generateName ?? meta.name ?? '');
  const spec = isObj(doc.spec) ? doc.spec : {};
  if (spec.workflowTemplateRef !== undefined)
    return { run: false, reason: 'workflowTemplateRef (a Kubernetes object)' };
  for (const [k, v] of walk(spec)) {
    if (k === 'templateRef') return { run: false, reason: 'templateRef (a WorkflowTemplate object)' };
    if (k === 'configMapKeyRef' || k === 'secretKeyRef' || k === 'secret')
      return { run: false, reason: `${k} (a Kubernetes object)` };
    if (k === 'volumeClaimTemplates' || (k === 'volumes' && Array.isArray(v) && v.length > 0))
      return { run: false, reason: `${k} (Kubernetes volumes)` };
    if (k === 'synchronization') return { run: false, reason: 'synchronization (a ConfigMap or database)' };
  }
  const templates = Array.isArray(spec.templates) ? spec.templates.filter(isObj) : [];
  const all = [...templates, ...inlineTemplates(templates)];
  for (const t of all) {
    const why = templateBlocker(t, has);
    if (why) return { run: false, reason: `template "${String(t.name ?? '(inline)')}": ${why}` };
  }
  if (noTest === 'expected-failure') {
    if (RANDOM_OUTCOME.has(name)) return { run: true, expect: 'Either' };
    return { run: true, expect: SUCCEEDS_DESPITE_FAILURE.has(name) ? 'Succeeded' : 'Failed' };
  }
  if (noTest !== undefined) {
    // Argo skips these in its e2e run (they need its CI's environment, take long, or are flaky there); with
    // --with-skipped they are held to Succeeded too, and counted apart.
    if (opts.withSkipped) return { run: true, expect: 'Succeeded', skippedByArgo: String(noTest) };
    return { run: false, reason: `Argo's e2e skips it too (no-test: ${String(noTest)})` };
  }
  return { run: true, expect: 'Succeeded' };
}

/** Templates written inline in steps and tasks (`inline:`), at any depth. */
function inlineTemplates(templates: Obj[]): Obj[] {
  const out: Obj[] = [];
  for (const [k, v] of walk(templates)) if (k === 'inline' && isObj(v)) out.push(v);
  return out;
}
