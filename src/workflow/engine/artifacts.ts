// Artifacts as the engine passes them: an artifact travels through a scope as the JSON of its repository
// record (`steps.X.outputs.artifacts.Y`, `inputs.artifacts.Y`, `workflow.outputs.artifacts.G`), is put at
// its path before a step starts, and is saved to the repository when the step ends.
import { rmSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { NodeOutputs, StoredArtifact } from '../../metadata/index.js';
import { isolationAvailable, planPrivatePaths, type PrivateMount } from '../artifacts/private-paths.js';
import { ArtifactRepository } from '../artifacts/repository.js';
import { restoreArtifact, saveArtifact } from '../artifacts/transfer.js';
import { substitute, UnresolvedVariable } from '../expr/template.js';
import type { ArgumentArtifact, Template } from '../spec/schema.js';
import type { ArtifactSource, RunContext } from './context.js';

export type { ArtifactSource };

/** An artifact handed to a call: a repository record (with the part of it wanted), or raw content. */

const scopeWithGlobals = (
  ctx: RunContext,
  scope: ReadonlyMap<string, string>,
): ReadonlyMap<string, string> => (ctx.globals.size ? new Map([...scope, ...ctx.globals]) : scope);

/** The artifact a `from` tag names, or undefined when what it names does not exist (a skipped step). */
export function artifactFrom(
  ctx: RunContext,
  from: string,
  scope: ReadonlyMap<string, string>,
): StoredArtifact | undefined {
  let text: string;
  try {
    text = substitute(from, scopeWithGlobals(ctx, scope));
  } catch (err) {
    if (err instanceof UnresolvedVariable) return undefined;
    throw err;
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    v = undefined;
  }
  if (!v || typeof v !== 'object' || typeof (v as StoredArtifact).digest !== 'string')
    throw new Error(`"${from}" does not name an artifact (it is ${JSON.stringify(text.slice(0, 80))})`);
  return v as StoredArtifact;
}

/** A step's arguments.artifacts, resolved in the caller's scope (a `from` naming nothing is left out). */
export function argumentArtifacts(
  ctx: RunContext,
  args: ArgumentArtifact[],
  scope: ReadonlyMap<string, string>,
): Map<string, ArtifactSource> {
  const out = new Map<string, ArtifactSource>();
  for (const a of args) {
    if (a.raw) out.set(a.name, { raw: a.raw.data });
    else {
      const ref = artifactFrom(ctx, a.from!, scope);
      if (ref) out.set(a.name, { ref: { ...ref, ...(a.subPath ? { subPath: a.subPath } : {}) } });
    }
  }
  return out;
}

/**
 * Resolves a template's input artifacts (passed, else its own `from` or `raw`) into `scope` as
 * `inputs.artifacts.<name>`; returns an error message for a missing one that is not optional.
 */
export async function bindInputArtifacts(
  ctx: RunContext,
  t: Template,
  node: string,
  given: Map<string, ArtifactSource>,
  scope: Map<string, string>,
): Promise<string | undefined> {
  for (const a of t.inputs?.artifacts ?? []) {
    let src = given.get(a.name);
    if (!src && a.from !== undefined) {
      const ref = artifactFrom(ctx, a.from, scope);
      if (ref) src = { ref };
    }
    if (!src && a.raw) src = { raw: a.raw.data };
    if (!src) {
      if (a.optional) continue;
      return `missing input artifact "${a.name}" (pass it in arguments.artifacts, or mark it optional: true)`;
    }
    let ref: StoredArtifact;
    if ('raw' in src) {
      const { digest, size } = await ArtifactRepository.of(ctx.workspace).put(Buffer.from(src.raw));
      ref = { name: a.name, digest, size, archive: 'none', type: 'file', node: `${ctx.run}/${node}` };
    } else ref = src.ref;
    scope.set(`inputs.artifacts.${a.name}`, JSON.stringify(ref));
  }
  return undefined;
}

/** Makes a node's artifacts with a globalName visible as `workflow.outputs.artifacts.<globalName>`. */
export function publishGlobals(ctx: RunContext, outputs: NodeOutputs): void {
  for (const a of outputs.artifacts ?? [])
    if (a.globalName) ctx.globals.set(`workflow.outputs.artifacts.${a.globalName}`, JSON.stringify(a));
}

/** A steps or dag template's output artifacts, each taken `from` its children; throws for a missing one. */
export function compositeArtifacts(
  ctx: RunContext,
  t: Template,
  scope: ReadonlyMap<string, string>,
): StoredArtifact[] {
  const out: StoredArtifact[] = [];
  for (const o of t.outputs?.artifacts ?? []) {
    const from = o.from ?? `{{=${o.fromExpression}}}`;
    const ref = artifactFrom(ctx, from, scope);
    if (!ref) {
      if (o.optional) continue;
      throw new Error(`output artifact "${o.name}": ${from} names no artifact (mark it optional: true)`);
    }
    const { subPath: _unused, ...rest } = ref;
    out.push({ ...rest, name: o.name, ...(o.globalName ? { globalName: o.globalName } : {}) });
  }
  return out;
}

/** Where a leaf step's artifacts are, for the step and on the host, and how it is started to see them. */
export interface StepFiles {
  /** The path as the step sees it (`{{inputs.artifacts.X.path}}`). */
  stepPath(path: string): string;
  /** The path on the host once the step's working folder is known. */
  hostPath(path: string, cwd: string): string;
  mounts: PrivateMount[];
}

/** Plans a leaf step's artifact paths; an error message when its absolute paths cannot be made private. */
export function planStepFiles(
  ctx: RunContext,
  t: Template,
  node: string,
  scratch: string,
  env: NodeJS.ProcessEnv,
): StepFiles | string {
  const artifactPaths = [
    ...(t.inputs?.artifacts ?? []).map((a) => a.path),
    ...(t.outputs?.artifacts ?? []).map((a) => a.path),
  ].filter((p): p is string => p !== undefined);
  // A step that has private folders anyway gets its output parameters' files in them too (Argo examples put
  // both side by side); a step without artifacts keeps today's shared paths for its parameters.
  const parameterPaths = artifactPaths.some(isAbsolute)
    ? (t.outputs?.parameters ?? []).flatMap((p) =>
        p.valueFrom?.path !== undefined ? [p.valueFrom.path] : [],
      )
    : [];
  const declared = [...artifactPaths, ...parameterPaths];
  const plan = planPrivatePaths(ctx.store.getNode(ctx.run, node)?.displayName ?? node, declared, {
    scratch,
    keep: [resolve(ctx.workspace), ctx.cwd],
    allowed: declared.some(isAbsolute) && isolationAvailable(env),
  });
  if ('error' in plan) return plan.error;
  // A built-in step runs where the run was started: its relative artifact paths live in its scratch dir.
  const stepPath = (p: string) => (isAbsolute(p) || !t.distml ? p : join(scratch, p));
  return {
    stepPath,
    hostPath: (p, cwd) => (isAbsolute(stepPath(p)) ? plan.hostPath(stepPath(p)) : join(cwd, p)),
    mounts: plan.mounts,
  };
}

/** Adds `{{inputs.artifacts.X.path}}`, `{{outputs.artifacts.X.path}}`, `{{outputs.parameters.X.path}}`. */
export function pathVariables(t: Template, files: StepFiles, scope: Map<string, string>): void {
  for (const a of t.inputs?.artifacts ?? [])
    if (a.path !== undefined) scope.set(`inputs.artifacts.${a.name}.path`, files.stepPath(a.path));
  for (const a of t.outputs?.artifacts ?? [])
    if (a.path !== undefined) scope.set(`outputs.artifacts.${a.name}.path`, files.stepPath(a.path));
  for (const p of t.outputs?.parameters ?? [])
    if (p.valueFrom?.path !== undefined)
      scope.set(`outputs.parameters.${p.name}.path`, files.stepPath(p.valueFrom.path));
}

/** Puts each bound input artifact at its path (a fresh private folder per attempt), linking it as consumed. */
export async function placeInputs(
  ctx: RunContext,
  t: Template,
  node: string,
  files: StepFiles,
  o: { scope: ReadonlyMap<string, string>; cwd: string; scratch: string },
): Promise<void> {
  rmSync(join(o.scratch, 'mnt'), { recursive: true, force: true });
  const repo = ArtifactRepository.of(ctx.workspace);
  for (const a of t.inputs?.artifacts ?? []) {
    const text = o.scope.get(`inputs.artifacts.${a.name}`);
    if (text === undefined || a.path === undefined) continue;
    const ref = JSON.parse(text) as StoredArtifact;
    try {
      await restoreArtifact(repo, ref, files.hostPath(a.path, o.cwd), {
        ...(ref.subPath ? { subPath: ref.subPath } : {}),
        ...(a.mode !== undefined ? { mode: a.mode } : {}),
      });
    } catch (err) {
      throw new Error(`input artifact "${a.name}": ${(err as Error).message}`);
    }
    if (ref.id !== undefined) ctx.store.linkArtifact(ref.id, ctx.run, node, 'input');
  }
}

/** Saves a finished leaf step's output artifacts; throws naming a non-optional one it did not write. */
export async function saveOutputs(
  ctx: RunContext,
  t: Template,
  node: string,
  files: StepFiles,
  cwd: string,
): Promise<StoredArtifact[]> {
  const repo = ArtifactRepository.of(ctx.workspace);
  const out: StoredArtifact[] = [];
  for (const o of t.outputs?.artifacts ?? []) {
    const saved = await saveArtifact(repo, files.hostPath(o.path!, cwd), {
      name: o.name,
      archive: o.archive?.none ? 'none' : 'tar',
      ...(o.archive?.tar?.compressionLevel !== undefined
        ? { compressionLevel: o.archive.tar.compressionLevel }
        : {}),
      node: `${ctx.run}/${node}`,
      path: o.path!,
      ...(o.globalName ? { globalName: o.globalName } : {}),
    });
    if (!saved) {
      if (o.optional) continue;
      throw new Error(
        `output artifact "${o.name}": the step wrote nothing at ${o.path} (mark it optional: true if it may be missing)`,
      );
    }
    const id = ctx.store.recordArtifact({
      run: ctx.run,
      node,
      kind: 'artifact',
      uri: repo.blobPath(saved.digest),
      digest: saved.digest,
    });
    out.push({ ...saved, id });
  }
  return out;
}
