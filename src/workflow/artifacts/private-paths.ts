// Argo's steps write artifacts to absolute paths (`/tmp/hello_world.txt`) inside their own container, so two
// steps running at once never see each other's files. Here steps share one machine: each step that declares
// an absolute artifact path runs in its own mount namespace (`unshare --mount --propagation private`, as
// root on Linux) where the folder holding that path (`/tmp` for `/tmp/x`; the folder itself for a path
// ending in `/`) is the step's own folder `<scratch>/mnt/<folder>` bind-mounted over it. Nothing is mounted
// outside the namespace; it goes away with the step. What the step writes there is on the host at
// `<scratch>/mnt/<path>`, where the engine reads outputs and puts inputs. The workspace and the directory
// the run was started from stay visible at their own paths when they lie inside such a folder. Relative
// paths need none of this: they are in the step's own working folder.
import { accessSync, constants, rmdirSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, posix } from 'node:path';

/** Folders a step cannot be given its own copy of without losing the system it runs on. */
const SYSTEM = new Set([
  '/',
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/proc',
  '/run',
  '/sbin',
  '/sys',
  '/usr',
  '/usr/bin',
  '/usr/lib',
  '/usr/sbin',
  '/var',
]);

/** One folder made private: `source` (on the host) is mounted at `target` inside the step's namespace. */
export interface PrivateMount {
  target: string;
  source: string;
  /** Paths that must stay visible inside `target`, each bound onto the same path inside the namespace. */
  keep: string[];
}

export type PrivatePlan = { mounts: PrivateMount[]; hostPath: (path: string) => string } | { error: string };

const inside = (path: string, dir: string) => dir === '/' || path === dir || path.startsWith(`${dir}/`);

/**
 * The mounts that give one step its own copy of the folders of its absolute `paths` (inputs and outputs),
 * and where on the host an absolute path of the step lives. `allowed` says whether this machine can make a
 * mount namespace (isolationAvailable); when it cannot, absolute paths are refused with what to do instead.
 */
export function planPrivatePaths(
  step: string,
  paths: string[],
  o: { scratch: string; keep: string[]; allowed: boolean },
): PrivatePlan {
  const absolute = paths.filter((p) => isAbsolute(p));
  if (absolute.length === 0) return { mounts: [], hostPath: (p) => p };
  if (!o.allowed) {
    return {
      error:
        `step "${step}": artifact path ${absolute[0]} is absolute; keeping it private to the step needs a ` +
        `mount namespace (root on Linux, with util-linux's unshare), which this machine does not allow. ` +
        `Use a relative path (it lands in the step's own working folder)`,
    };
  }
  const folders = new Set<string>();
  for (const p of absolute) {
    const folder = p.endsWith('/')
      ? posix.normalize(p).replace(/\/+$/, '') || '/'
      : dirname(posix.normalize(p));
    if (SYSTEM.has(folder))
      return {
        error:
          `step "${step}": artifact path ${p} is directly in ${folder}, which cannot be made private to the ` +
          `step without hiding the system's ${folder}; use a path in a folder of its own, e.g. /tmp${p.endsWith('/') ? '/out/' : `/${posix.basename(p)}`}`,
      };
    folders.add(folder);
  }
  // A folder inside another one already made private is private with it.
  const outer = [...folders].filter((f) => ![...folders].some((g) => g !== f && inside(f, g))).sort();
  const mounts = outer.map((target) => ({
    target,
    source: join(o.scratch, 'mnt', target),
    // Only what lies strictly inside: keeping the private folder itself (a run started in /tmp) would give the
    // step the shared folder back, and steps writing the same path would overwrite each other again.
    keep: o.keep.filter(
      (k, i) =>
        k !== target && inside(k, target) && !o.keep.some((j, n) => n !== i && j !== k && inside(k, j)),
    ),
  }));
  const hostPath = (p: string) =>
    isAbsolute(p) && outer.some((t) => inside(posix.normalize(p), t)) ? join(o.scratch, 'mnt', p) : p;
  return { mounts, hostPath };
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The argv that runs `argv` with `mounts` in a private mount namespace (util-linux unshare, then sh). */
export function isolatedArgv(mounts: PrivateMount[], argv: string[]): string[] {
  const lines = ['set -e'];
  for (const m of mounts) {
    lines.push(`mkdir -p ${q(m.source)} ${q(m.target)}`);
    for (const k of m.keep) {
      const at = join(m.source, k.slice(m.target === '/' ? 0 : m.target.length));
      lines.push(`mkdir -p ${q(at)}`, `mount --rbind ${q(k)} ${q(at)}`);
    }
    lines.push(`mount --rbind ${q(m.source)} ${q(m.target)}`);
  }
  lines.push('exec "$@"');
  return [
    'unshare',
    '--mount',
    '--propagation',
    'private',
    '--',
    'sh',
    '-c',
    lines.join('\n'),
    'distml-step',
    ...argv,
  ];
}

let available: boolean | undefined;

/** Whether this process can give a step its own mount namespace: root on Linux with unshare on PATH. */
export function isolationAvailable(env: NodeJS.ProcessEnv): boolean {
  if (available === undefined) {
    const onPath = (env['PATH'] ?? '').split(delimiter).some((d) => {
      try {
        accessSync(join(d, 'unshare'), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
    available = process.platform === 'linux' && process.getuid?.() === 0 && onPath;
  }
  return available;
}

/**
 * Removes the empty folders made on the host to mount kept paths on (e.g. `<scratch>/mnt/tmp/run-dir`), so
 * they do not show up in a folder artifact. Only once the step has exited: in a running step's namespace
 * they are mount points, and removing one would unmount it there.
 */
export function pruneKeepPoints(mounts: PrivateMount[]): void {
  for (const m of mounts)
    for (const k of m.keep) {
      for (
        let at = join(m.source, k.slice(m.target === '/' ? 0 : m.target.length));
        at.startsWith(`${m.source}/`);
        at = dirname(at)
      ) {
        try {
          rmdirSync(at);
        } catch {
          break; // not empty (the step wrote there) or gone
        }
      }
    }
}
