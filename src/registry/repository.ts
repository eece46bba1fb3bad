// A model repository laid out as TF Serving expects: <repo>/<model>/<version>/ with integer versions, each a
// complete model package. The newest version is the one served; publishing never shows a half-written one.
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createDirAtomic, resolveDir } from '../durable/index.js';
import { MANIFEST, readPackage, WEIGHTS } from '../models/index.js';
import { RegistryError } from './errors.js';

/** Model names are one path segment: letters, digits, '.', '_', '-', not starting with a dot or dash. */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
/** Version folders are all digits (TF Serving's rule); anything else in a model folder is ignored. */
const VERSION = /^\d{1,15}$/;

/** Throws a RegistryError unless `name` can be a model folder. */
export function checkModelName(name: string): string {
  if (!NAME.test(name)) {
    throw new RegistryError(
      'REGISTRY_BAD_NAME',
      `model name "${name}" is not allowed: use letters, digits, '.', '_' and '-' (at most 128, not starting with '.' or '-')`,
    );
  }
  return name;
}

/** The folder of one version: <repo>/<name>/<version>. */
export function versionPath(repo: string, name: string, version: number): string {
  return join(resolve(repo), checkModelName(name), String(version));
}

/** The folder holding every version of a model. */
export function modelPath(repo: string, name: string): string {
  return join(resolve(repo), checkModelName(name));
}

/** Integer versions present for `name`, ascending; empty when the model folder does not exist. */
export async function listVersions(repo: string, name: string): Promise<number[]> {
  let entries;
  try {
    entries = await readdir(modelPath(repo, name), { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return entries
    .filter((e) => e.isDirectory() && VERSION.test(e.name))
    .map((e) => Number(e.name))
    .sort((a, b) => a - b);
}

/** The newest version of `name`, or undefined when there is none. */
export async function latestVersion(repo: string, name: string): Promise<number | undefined> {
  const versions = await listVersions(repo, name);
  return versions[versions.length - 1];
}

/** Model names in a repository (visible folders), sorted. */
export async function listModels(repo: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(resolve(repo), { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return entries
    .filter((e) => e.isDirectory() && NAME.test(e.name))
    .map((e) => e.name)
    .sort();
}

export interface Published {
  name: string;
  version: number;
  path: string;
}

/**
 * Copies the model package at `packageDir` into the repository as the next version of `name`. Each version is
 * assembled and fsynced in a hidden temp folder inside <repo>/<name>/ and renamed into place, so a watcher
 * sees either no new version or a complete one, also after a crash. `extra` is recorded under
 * `lineage.registry` in the new version's model.json, next to where the package came from and the lineage it
 * already had.
 */
export async function publish(
  repo: string,
  name: string,
  packageDir: string,
  extra: Record<string, unknown> = {},
): Promise<Published> {
  checkModelName(name);
  const source = resolve(packageDir);
  const real = await resolveDir(source); // one content, even if the package is replaced meanwhile
  const pkg = await readPackage(real); // validates manifest and weights before anything is copied
  const weights = await readFile(join(real, WEIGHTS));
  const parent = modelPath(repo, name);
  let version = ((await latestVersion(repo, name)) ?? 0) + 1;
  // Another publisher may take the same number between our listing and our rename: take the next one.
  for (let attempt = 0; attempt < 100; attempt++, version++) {
    const lineage = {
      ...pkg.manifest.lineage,
      registry: { ...extra, model: name, version, source, publishedAt: new Date().toISOString() },
    };
    const manifest = `${JSON.stringify({ ...pkg.manifest, lineage }, null, 2)}\n`;
    try {
      await createDirAtomic(join(parent, String(version)), { [MANIFEST]: manifest, [WEIGHTS]: weights });
      return { name, version, path: join(parent, String(version)) };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
  }
  throw new RegistryError('REGISTRY_CONFLICT', `could not find a free version number under ${parent}`);
}
