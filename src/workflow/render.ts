import type { NodeRecord, RunRecord, StoredArtifact } from '../metadata/index.js';

const ICON: Record<string, string> = {
  Pending: '◷',
  Running: '●',
  Succeeded: '✔',
  Failed: '✖',
  Error: '⚠',
  Skipped: '○',
  Omitted: '-',
};

const seconds = (n: NodeRecord | RunRecord, now = Date.now()) =>
  n.startedAt ? `${Math.round(((n.finishedAt ?? now) - n.startedAt) / 100) / 10}s` : '';

/** `argo get`-style status: the run header and its node tree. */
export function renderRun(run: RunRecord, nodes: NodeRecord[], engineGone = false): string {
  const head = [
    `Name:        ${run.name}`,
    `Status:      ${run.phase}${engineGone ? ' (engine gone: `distml resume` continues it)' : ''}`,
    ...(run.message ? [`Message:     ${run.message}`] : []),
    `Created:     ${new Date(run.createdAt).toISOString()}`,
    ...(run.startedAt ? [`Started:     ${new Date(run.startedAt).toISOString()}`] : []),
    ...(run.finishedAt ? [`Finished:    ${new Date(run.finishedAt).toISOString()}`] : []),
    `Duration:    ${seconds(run)}`,
    ...(Object.keys(run.parameters).length
      ? ['Parameters:', ...Object.entries(run.parameters).map(([k, v]) => `  ${k}: ${v}`)]
      : []),
  ];
  return `${head.join('\n')}\n\n${renderTree(nodes)}`;
}

const finished = (n: NodeRecord) => n.phase !== 'Pending' && n.phase !== 'Running';

/**
 * Argo's `progress` of a node: what the step reported (training steps, decoded images), else for a node with
 * children (a fan-out, a steps group, a DAG) how many of them have finished.
 */
export function nodeProgress(n: NodeRecord, children: NodeRecord[]): string {
  if (n.progress) return n.progress;
  return children.length ? `${children.filter(finished).length}/${children.length}` : '';
}

/** The tree's column titles (PROGRESS is Argo's `N/M` of long steps). */
export const TREE_HEADER = ['STEP', 'TEMPLATE', 'DURATION', 'PROGRESS', 'MESSAGE'];

/** One row per node, children under their parent with tree branches, in TREE_HEADER's column order. */
export function treeRows(nodes: NodeRecord[], now = Date.now()): string[][] {
  const children = new Map<string | null, NodeRecord[]>();
  for (const n of nodes) children.set(n.parent, [...(children.get(n.parent) ?? []), n]);
  const rows: string[][] = [];
  const walk = (parent: string | null, prefix: string, root: boolean) => {
    const list = children.get(parent) ?? [];
    list.forEach((n, i) => {
      const last = i === list.length - 1;
      const branch = root ? '' : last ? '└─ ' : '├─ ';
      const memo = n.memoizationStatus?.hit && n.message !== 'memoized' ? ' (memoized)' : '';
      const retries = n.retries > 0 ? ` (retries: ${n.retries})` : '';
      rows.push([
        `${prefix}${branch}${ICON[n.phase] ?? '?'} ${n.displayName}`,
        n.template,
        seconds(n, now),
        nodeProgress(n, children.get(n.id) ?? []),
        `${n.message ?? ''}${memo}${retries}`.trim(),
      ]);
      walk(n.id, root ? '' : `${prefix}${last ? '   ' : '│  '}`, false);
    });
  };
  walk(null, '', true);
  return rows;
}

/** The node tree with aligned columns; the PROGRESS column only when some node reports progress. */
export function renderTree(nodes: NodeRecord[]): string {
  const body = treeRows(nodes);
  const withProgress = body.some((r) => r[3]);
  const rows = [TREE_HEADER, ...body].map((r) => (withProgress ? r : r.filter((_, c) => c !== 3)));
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => [...(r[c] ?? '')].length)));
  return rows
    .map((r) =>
      r
        .map((v, c) => v + ' '.repeat(Math.max(0, (widths[c] ?? 0) - [...v].length)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** A node as `distml get -o json` shows it (Argo's status.nodes entry, keyed by id). */
export function nodeJson(n: NodeRecord): Record<string, unknown> {
  return {
    id: n.id,
    name: n.id,
    displayName: n.displayName,
    type: n.type,
    templateName: n.template,
    phase: n.phase,
    message: n.message ?? undefined,
    startedAt: n.startedAt ? new Date(n.startedAt).toISOString() : null,
    finishedAt: n.finishedAt ? new Date(n.finishedAt).toISOString() : null,
    inputs: n.inputs
      ? { parameters: Object.entries(n.inputs).map(([name, value]) => ({ name, value })) }
      : undefined,
    outputs: n.outputs
      ? {
          ...(n.outputs.result !== undefined ? { result: n.outputs.result } : {}),
          ...(n.outputs.exitCode !== undefined ? { exitCode: String(n.outputs.exitCode) } : {}),
          parameters: Object.entries(n.outputs.parameters ?? {}).map(([name, value]) => ({ name, value })),
          ...(n.outputs.artifacts ? { artifacts: n.outputs.artifacts.map(artifactJson) } : {}),
        }
      : undefined,
    memoizationStatus: n.memoizationStatus ?? undefined,
    retries: n.retries,
    pid: n.pid ?? undefined,
    boundaryID: n.parent ?? undefined,
    children: undefined as string[] | undefined,
  };
}

/** The whole run as `distml get -o json|yaml` prints it: Argo's metadata / spec / status shape. */
export function runJson(run: RunRecord, nodes: NodeRecord[]): Record<string, unknown> {
  const byId: Record<string, Record<string, unknown>> = {};
  for (const n of nodes) byId[n.id] = nodeJson(n);
  for (const n of nodes) {
    if (n.parent && byId[n.parent]) {
      const p = byId[n.parent]!;
      p['children'] = [...((p['children'] as string[] | undefined) ?? []), n.id];
    }
  }
  for (const n of nodes) {
    const progress = nodeProgress(
      n,
      nodes.filter((c) => c.parent === n.id),
    );
    if (progress) byId[n.id]!['progress'] = progress;
  }
  return {
    metadata: {
      name: run.name,
      workflow: run.workflow,
      creationTimestamp: new Date(run.createdAt).toISOString(),
      annotations: (run.spec as { metadata?: { annotations?: Record<string, string> } } | null)?.metadata
        ?.annotations,
    },
    spec: {
      arguments: { parameters: Object.entries(run.parameters).map(([name, value]) => ({ name, value })) },
    },
    status: {
      phase: run.phase,
      message: run.message ?? undefined,
      startedAt: run.startedAt ? new Date(run.startedAt).toISOString() : null,
      finishedAt: run.finishedAt ? new Date(run.finishedAt).toISOString() : null,
      nodes: JSON.parse(JSON.stringify(byId)) as unknown,
      ...globalOutputs(nodes),
    },
  };
}

/** An artifact as `distml get` shows it: where it is in the repository and what produced it. */
function artifactJson(a: StoredArtifact): Record<string, unknown> {
  const { id: _lineageRow, ...shown } = a;
  return shown;
}

/** Argo's `status.outputs.artifacts`: each artifact a step exported under its globalName (the newest wins). */
function globalOutputs(nodes: NodeRecord[]): { outputs?: { artifacts: Record<string, unknown>[] } } {
  const byName = new Map<string, StoredArtifact>();
  for (const n of nodes)
    for (const a of n.outputs?.artifacts ?? []) if (a.globalName) byName.set(a.globalName, a);
  if (byName.size === 0) return {};
  return {
    outputs: { artifacts: [...byName].map(([name, a]) => ({ ...artifactJson(a), name })) },
  };
}
