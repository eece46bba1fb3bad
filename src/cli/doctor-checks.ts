// The checks behind `distml doctor`: each tries the real thing (load the addon, form a Gloo group, read the
// dataset, write the database, bind a port) and says what to do when it fails.
import { existsSync, mkdirSync, rmSync, writeFileSync, accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import { DEBIAN_DIR, FILE_NAMES, openIdx } from '../data/index.js';
import { newJobSecret, ProcessGroup, Store, StoreServer, torchVersion } from '../engine/index.js';
import { MetadataStore } from '../metadata/index.js';
import { envValue } from './env.js';

/** ok: works; problem: distml cannot do its work (exit 1); warning: only tests or a default are affected. */
export type CheckStatus = 'ok' | 'problem' | 'warning';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  /** What to do about a problem or warning. */
  fix?: string;
}

const ok = (name: string, detail: string): CheckResult => ({ name, status: 'ok', detail });
const bad = (name: string, detail: string, fix: string, status: CheckStatus = 'problem'): CheckResult => ({
  name,
  status,
  detail,
  fix,
});
const why = (err: unknown) => (err instanceof Error ? err.message : String(err));

const LIBTORCH_FIX = '`apt-get install libtorch-dev` (or set LIBTORCH=/path/to/libtorch), then `make build`';

/** libtorch and the N-API addon load. */
export function checkEngine(): CheckResult {
  try {
    return ok('libtorch', `addon loaded, libtorch ${torchVersion()}`);
  } catch (err) {
    return bad('libtorch', why(err), LIBTORCH_FIX);
  }
}

/** A one-process Gloo group on loopback forms and allreduces: what multi-worker training needs. */
export async function checkGloo(): Promise<CheckResult> {
  let host: StoreServer | undefined;
  try {
    const secret = newJobSecret();
    host = await StoreServer.start({ host: '127.0.0.1', secret });
    const store = await Store.connect({ host: '127.0.0.1', port: host.port, secret, timeoutMs: 30_000 });
    const group = await ProcessGroup.create(store, {
      prefix: 'doctor',
      rank: 0,
      size: 1,
      iface: 'lo',
      timeoutMs: 30_000,
    });
    try {
      const data = new Float32Array([1, 2, 3]);
      await group.allreduce(data, 'sum');
      if (data[2] !== 3) throw new Error(`allreduce gave ${Array.from(data).join(',')}`);
    } finally {
      await group.close();
    }
    return ok('gloo', `1-process group on loopback (store port ${host.port}) allreduced`);
  } catch (err) {
    return bad(
      'gloo',
      why(err),
      `needs libtorch built with Gloo (Debian's libtorch-dev is) and a loopback interface "lo"; ${LIBTORCH_FIX}`,
    );
  } finally {
    await host?.close();
  }
}

const BASES = Object.values(FILE_NAMES).flatMap((s) => [s.images, s.labels]);

/** The four files in `dir` (raw or .gz), or which are missing. */
function findFiles(dir: string): { files: string[] } | { missing: string[] } {
  const files: string[] = [];
  const missing: string[] = [];
  for (const base of BASES) {
    const found = [`${base}.gz`, base].map((f) => join(dir, f)).find((f) => existsSync(f));
    if (found) files.push(found);
    else missing.push(`${base}[.gz]`);
  }
  return missing.length ? { missing } : { files };
}

/** Reads every record of every file: a truncated, damaged or padded file fails with a DataError naming it. */
async function readAll(files: string[]): Promise<number[]> {
  const counts: number[] = [];
  for (const file of files) {
    const { header, records } = await openIdx(file);
    for await (const chunk of records) void chunk;
    counts.push(header.dims[0] ?? 0);
  }
  return counts;
}

/**
 * Fashion-MNIST found and intact: `--source DIR` looks only there; auto (and debian) look where `data
 * prepare` would, without downloading.
 */
export async function checkDataset(source: string, workspace: string): Promise<CheckResult> {
  const downloaded = join(workspace, 'datasets', 'fashion-mnist');
  const named = !['auto', 'debian', 'url'].includes(source);
  const dirs = named
    ? [resolve(source)]
    : source === 'debian'
      ? [DEBIAN_DIR]
      : source === 'url'
        ? [downloaded]
        : [DEBIAN_DIR, downloaded];
  const tried: string[] = [];
  for (const dir of dirs) {
    const found = existsSync(dir) ? findFiles(dir) : { missing: ['the directory itself: it does not exist'] };
    if ('missing' in found) {
      tried.push(`${dir} (missing ${found.missing.join(', ')})`);
      continue;
    }
    try {
      const [trainImages, trainLabels, testImages, testLabels] = await readAll(found.files);
      if (trainImages !== trainLabels || testImages !== testLabels)
        throw new Error(
          `image and label counts differ (${trainImages}/${trainLabels}, ${testImages}/${testLabels})`,
        );
      return ok(
        'dataset',
        `Fashion-MNIST in ${dir}: ${trainImages} train, ${testImages} test images, all readable`,
      );
    } catch (err) {
      return bad(
        'dataset',
        `Fashion-MNIST in ${dir} is damaged: ${why(err)}`,
        'delete the damaged file and fetch it again (`distml data prepare --source url`), or reinstall dataset-fashion-mnist',
      );
    }
  }
  const fix = named
    ? `copy the four IDX files (${BASES.map((b) => `${b}[.gz]`).join(', ')}) into ${resolve(source)}, or use --source debian after \`apt-get install dataset-fashion-mnist\``
    : '`apt-get install dataset-fashion-mnist`, or `distml data prepare` to download it into the workspace';
  return bad('dataset', `no Fashion-MNIST files in ${tried.join('; ')}`, fix);
}

/** The workspace folder and its SQLite database can be created and written. */
export function checkWorkspace(workspace: string): CheckResult {
  const fix = `make ${workspace} writable, or pick another folder with --workspace DIR (or DISTML_HOME)`;
  try {
    mkdirSync(workspace, { recursive: true });
    const probe = join(workspace, `.doctor-${process.pid}`);
    writeFileSync(probe, 'ok');
    rmSync(probe);
    MetadataStore.open(workspace).close();
    return ok('workspace', `${workspace} and its database ${join(workspace, 'distml.db')} are writable`);
  } catch (err) {
    return bad('workspace', `${workspace}: ${why(err)}`, fix);
  }
}

/** Binds `port` on 127.0.0.1 and lets it go; resolves with the port bound, or the error. */
function bind(port: number): Promise<number | Error> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', (err) => done(err));
    server.listen(port, '127.0.0.1', () => {
      const addr = server.address();
      server.close(() => done(typeof addr === 'object' && addr ? addr.port : port));
    });
  });
}

/** Loopback ports: the OS hands out free ones (workers, replicas, stores), and serve's default is free. */
export async function checkPorts(defaultPort: number): Promise<CheckResult[]> {
  const any = await bind(0);
  const results = [
    any instanceof Error
      ? bad(
          'ports',
          `cannot listen on 127.0.0.1: ${any.message}`,
          'bring up the loopback interface (`ip link set lo up`)',
        )
      : ok('ports', `127.0.0.1 gives out free ports (got ${any})`),
  ];
  const fixed = await bind(defaultPort);
  results.push(
    fixed instanceof Error
      ? bad(
          'serve-port',
          `127.0.0.1:${defaultPort} (serve's default) is taken: ${fixed.message}`,
          `stop what holds it (\`ss -ltnp 'sport = :${defaultPort}'\` shows it), or pass --port 0 or another port`,
          'warning',
        )
      : ok('serve-port', `127.0.0.1:${defaultPort} (serve's default) is free`),
  );
  return results;
}

/** The first of `names` found on PATH, as a full path. */
export function onPath(names: string[], path = envValue('PATH') ?? ''): string | undefined {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    for (const name of names) {
      const file = join(dir, name);
      try {
        accessSync(file, constants.X_OK);
        return file;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/** A program the tests and benchmarks use (not distml itself): missing is a warning with the fix. */
export function checkTool(name: string, names: string[], install: string, path?: string): CheckResult {
  const found = onPath(names, path);
  return found
    ? ok(name, `${found}`)
    : bad(name, `${names.join(' or ')} not on PATH (used by tests and benchmarks only)`, install, 'warning');
}
